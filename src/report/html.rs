//! A small HTML writer: every piece of text goes through [`esc`] (identifiers, descriptions, chromosome names
//! and file names come from user files), figures are inline SVG, the style and the one script (sorting a
//! table by a clicked header) are inline: one self-contained file that needs no network, and that reads the
//! same with scripts off (the tables are then in their written order).

use std::fmt::Write as _;

/// Text made safe for HTML element content and double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1280px;\
color:#222;padding:0 1em}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}table.top{font-size:.8em}td,th{border:1px solid #ddd;padding:.25em .5em;\
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.note{color:#555;font-size:.9em}figure{margin:.5em 0}table.summary td.num{text-align:left}svg{max-width:100%;height:auto}\
table.sortable th{cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:\" \\25B2\"}\
th[aria-sort=descending]::after{content:\" \\25BC\"}";

/// Sorts a `table.sortable` by the clicked (or Enter-pressed) header, again to reverse. A cell whose text, or
/// whose first word, is a number sorts as that number; other text sorts with digits compared as numbers
/// (`1:9` before `1:10`); empty cells go last. `#sort=N` or `#sort=N-desc` in the address sorts the first
/// sortable table by column N on load (a link to a sorted view; the browser test uses it). Built with DOM
/// methods only: no cell's text is ever parsed as HTML.
const SCRIPT: &str = r#"(function(){
var num=/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
function key(r,i){var c=r.cells[i],s=c?c.textContent.trim():'',w=s.split(/\s+/)[0];
return {e:s==='',n:num.test(w)?parseFloat(w):NaN,s:s};}
function cmp(a,b){var an=!isNaN(a.n),bn=!isNaN(b.n);
if(an&&bn)return a.n-b.n;if(an!==bn)return an?-1:1;
return a.s.localeCompare(b.s,undefined,{numeric:true});}
function sort(t,i,desc){var ths=t.tHead.rows[0].cells,body=t.tBodies[0];
var rows=Array.prototype.map.call(body.rows,function(r,j){return {r:r,k:key(r,i),j:j};});
rows.sort(function(x,y){var a=x.k,b=y.k;if(a.e||b.e)return (a.e-b.e)||(x.j-y.j);
var c=cmp(a,b);return (desc?-c:c)||(x.j-y.j);});
for(var k=0;k<ths.length;k++)ths[k].removeAttribute('aria-sort');
ths[i].setAttribute('aria-sort',desc?'descending':'ascending');
rows.forEach(function(o){body.appendChild(o.r);});}
var tables=document.querySelectorAll('table.sortable');
Array.prototype.forEach.call(tables,function(t){
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
th.tabIndex=0;th.title='Sort by this column';
function go(){sort(t,i,th.getAttribute('aria-sort')==='ascending');}
th.addEventListener('click',go);
th.addEventListener('keydown',function(e){if(e.key==='Enter')go();});});});
var m=/^#sort=(\d+)(-desc)?$/.exec(location.hash);
if(m&&tables.length&&+m[1]<tables[0].tHead.rows[0].cells.length)sort(tables[0],+m[1],!!m[2]);
})();"#;

pub struct Page {
    buf: String,
}

impl Page {
    pub fn new(title: &str) -> Self {
        let mut buf = String::new();
        let _ = write!(
            buf,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            esc(title),
            esc(title)
        );
        Page { buf }
    }

    pub fn section(&mut self, id: &str, title: &str) {
        let _ = writeln!(self.buf, "<section id=\"{}\"><h2>{}</h2>", esc(id), esc(title));
    }

    pub fn end_section(&mut self) {
        self.buf.push_str("</section>\n");
    }

    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.buf, "<h3>{}</h3>", esc(text));
    }

    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.buf, "<p class=\"note\">{}</p>", esc(text));
    }

    /// A figure: `svg` must come from the report's own drawing code (plotters escapes the text in it).
    pub fn figure(&mut self, svg: &str, caption: &str) {
        let _ = writeln!(self.buf, "<figure>{svg}<figcaption class=\"note\">{}</figcaption></figure>", esc(caption));
    }

    /// A table of plain-text cells; a cell that is a number is right-aligned.
    pub fn table(&mut self, class: &str, header: &[&str], rows: &[Vec<String>]) {
        self.table_with(class, false, header, rows);
    }

    /// A table whose rows the page's script sorts by a clicked header.
    pub fn sortable_table(&mut self, class: &str, header: &[&str], rows: &[Vec<String>]) {
        self.table_with(class, true, header, rows);
    }

    fn table_with(&mut self, class: &str, sortable: bool, header: &[&str], rows: &[Vec<String>]) {
        let extra = if sortable { " sortable" } else { "" };
        let _ = write!(self.buf, "<table class=\"{}{extra}\"><thead><tr>", esc(class));
        for h in header {
            let _ = write!(self.buf, "<th>{}</th>", esc(h));
        }
        self.buf.push_str("</tr></thead><tbody>\n");
        for row in rows {
            let _ = write!(self.buf, "<tr class=\"{}-row\">", esc(class));
            for cell in row {
                let numeric = cell.parse::<f64>().is_ok();
                let attr = if numeric { " class=\"num\"" } else { "" };
                let _ = write!(self.buf, "<td{attr}>{}</td>", esc(cell));
            }
            self.buf.push_str("</tr>\n");
        }
        self.buf.push_str("</tbody></table>\n");
    }

    pub fn finish(mut self) -> String {
        let _ = write!(self.buf, "<script>{SCRIPT}</script>\n</body></html>\n");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_open_tags_or_close_attributes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'q'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"
        );
        let mut p = Page::new("<t>");
        p.table("top", &["id"], &[vec!["<script>\"".to_string()]]);
        let html = p.finish();
        assert_eq!(html.matches("<script>").count(), 1, "the page's own script only: {html}");
        assert!(!html.contains("<script>\"") && !html.contains("<t>"), "{html}");
        assert!(html.contains("&lt;script&gt;&quot;"));
        // The script cannot end early: no `</script` inside it.
        assert!(!SCRIPT.contains("</"));
    }
}
