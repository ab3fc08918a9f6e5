//! A small HTML writer: every piece of text goes through [`esc`] (identifiers, descriptions, chromosome names
//! and file names come from user files), figures are inline SVG, the style is inline: one self-contained file
//! that needs no network.

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
.note{color:#555;font-size:.9em}figure{margin:.5em 0}table.summary td.num{text-align:left}svg{max-width:100%;height:auto}";

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
        let _ = write!(self.buf, "<table class=\"{}\"><thead><tr>", esc(class));
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
        self.buf.push_str("</body></html>\n");
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
        assert!(!html.contains("<script>") && !html.contains("<t>"), "{html}");
        assert!(html.contains("&lt;script&gt;&quot;"));
    }
}
