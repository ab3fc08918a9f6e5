//! What a user sees: the "at a glance" columns of scores.parquet (checked against numpy by
//! `scripts/check_summary_columns.py`), and `enformer-vep report` opened in a real headless browser (Debian's
//! `chromium`, installed when absent; SKIP only where it cannot be installed): sections and top-variant rows
//! in the DOM, hostile identifiers shown as text, the top table sorted by its script, no console errors, a
//! non-blank screenshot.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Debian's chromium, installed with apt-get when absent (CI runs as root); None with a SKIP line where it
/// cannot be.
fn chromium() -> Option<PathBuf> {
    let find = || -> Option<PathBuf> {
        ["chromium", "chromium-browser"].iter().find_map(|name| {
            let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (out.status.success() && !p.is_empty()).then(|| PathBuf::from(p))
        })
    };
    if let Some(p) = find() {
        return Some(p);
    }
    eprintln!("chromium is absent: installing Debian's (apt-get install chromium)");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !apt(&["install", "-y", "-qq", "chromium"]) {
        apt(&["update", "-qq"]);
        apt(&["install", "-y", "-qq", "chromium"]);
    }
    let found = find();
    if found.is_none() {
        eprintln!("SKIP: chromium cannot be installed here (apt-get install chromium failed); browser checks not run");
        tally("skip browser checks (no chromium)");
    }
    found
}

/// Runs headless chromium on `html` with `args` (e.g. `--dump-dom`); returns (stdout, stderr).
fn headless(chromium: &Path, html: &Path, args: &[&str], profile: &Path) -> (String, String) {
    headless_at(chromium, html, "", args, profile)
}

/// As [`headless`], with `fragment` (e.g. `#sort=5`) after the file's address.
fn headless_at(chromium: &Path, html: &Path, fragment: &str, args: &[&str], profile: &Path) -> (String, String) {
    let out = Command::new("timeout")
        .arg("180")
        .arg(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}{fragment}", html.display()))
        .output()
        .expect("chromium runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "chromium {args:?} failed:\n{stderr}");
    (stdout, stderr)
}

/// Opens the report in chromium: the DOM has every section and `top_rows` rows in the top table, the hostile
/// strings appear as text and never as elements, the console is clean, and a screenshot has content.
/// Returns the screenshot's path and the DOM.
fn check_in_browser(html: &Path, top_rows: usize, hostile: &[&str]) -> Option<(PathBuf, String)> {
    let chromium = chromium()?;
    let dir = html.parent().unwrap();
    let (dom, log) = headless(&chromium, html, &["--dump-dom"], &dir.join("profile-dom"));
    for id in ["summary", "top", "distribution", "overview", "loci"] {
        assert!(dom.contains(&format!("<section id=\"{id}\">")), "section {id} missing from the DOM");
    }
    assert_eq!(dom.matches("<tr class=\"top-row\">").count(), top_rows, "top-variant rows");
    assert!(dom.matches("<svg").count() >= 2, "inline SVG figures: distribution and overview at least");
    assert_eq!(dom.matches("<script").count(), 1, "a hostile string became an element (the page has one script)");
    for h in hostile {
        let escaped = h.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&escaped), "{h} is not shown as text");
    }
    for line in log.lines() {
        assert!(!line.contains("CONSOLE") && !line.contains("Uncaught"), "console message: {line}");
    }
    // The script sorts the top table: by column 5 (max |stat|) ascending, then descending.
    for (fragment, ascending) in [("#sort=5", true), ("#sort=5-desc", false)] {
        let (dom, log) = headless_at(&chromium, html, fragment, &["--dump-dom"], &dir.join("profile-sort"));
        let values: Vec<f64> = top_column(&dom, 5).iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(values.len(), top_rows);
        let sorted = values.windows(2).all(|w| if ascending { w[0] <= w[1] } else { w[0] >= w[1] });
        assert!(sorted, "{fragment}: {values:?}");
        let marked = if ascending { "aria-sort=\"ascending\"" } else { "aria-sort=\"descending\"" };
        assert!(dom.contains(marked), "{fragment}: the header shows the order");
        assert!(!log.lines().any(|l| l.contains("CONSOLE") || l.contains("Uncaught")), "{log}");
    }
    let shot = dir.join("report.png");
    headless(
        &chromium,
        html,
        &["--window-size=1280,3000", &format!("--screenshot={}", shot.display())],
        &dir.join("profile-shot"),
    );
    let (w, h, rgba) = decode_png(&shot);
    assert!(w >= 1000 && h >= 2000, "{w}x{h}");
    let pixels = rgba.chunks_exact(4).count();
    let inked = rgba.chunks_exact(4).filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200).count();
    let colours: std::collections::HashSet<&[u8]> = rgba.chunks_exact(4).step_by(7).collect();
    assert!(
        inked * 50 > pixels && colours.len() > 50,
        "blank screenshot: {inked} of {pixels} pixels inked, {} colours",
        colours.len()
    );
    Some((shot, dom))
}

/// The text of column `col` of each top-variant row, in DOM order.
fn top_column(dom: &str, col: usize) -> Vec<String> {
    dom.split("<tr class=\"top-row\">")
        .skip(1)
        .filter_map(|row| {
            let row = row.split("</tr>").next()?;
            let cell = row.split("<td").nth(col + 1)?;
            Some(cell.split_once('>')?.1.split("</td>").next()?.to_string())
        })
        .collect()
}

fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, rgba)
}

const HOSTILE_ID: &str = r#"rs1"<script>alert('id')</script>"#;
const HOSTILE_DESC: &str = r#"DNASE:<script>alert("desc")</script> & 'quoted'"#;
/// How the DOM dump shows the hostile description: as text (chromium serialises quotes in text unescaped).
const HOSTILE_DESC_SHOWN: &str = r#"<script>alert("desc")</script> &"#;

/// 16 tracks (the tiny model's): every assay class, one description hostile.
fn write_targets(path: &Path) {
    let mut t = String::from("index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n");
    let classes = ["DNASE:cell", "CAGE:tissue", "CHIP:H3K27ac:cell", "ATAC:cell"];
    for i in 0..16 {
        let desc = if i == 5 { HOSTILE_DESC.to_string() } else { format!("{} {i}", classes[i % 4]) };
        t.push_str(&format!("{i}\t0\tENCFF{i:03}\tf\t32\t2\tmean\t{desc}\n"));
    }
    std::fs::write(path, t).unwrap();
}

fn report(scores: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report", "--scores", scores.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run_ok(&args);
    std::fs::read_to_string(out)
        .unwrap_or_else(|e| panic!("{}: {e} ({})", out.display(), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn demo_summary_columns_match_numpy_and_the_report_opens_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&[
        "demo-data",
        "--out-dir",
        d.join("data").to_str().unwrap(),
        "--genome-size",
        "300000",
        "--variants",
        "30",
    ]);
    let table = d.join("data/variants.kunkle.txt");
    let text = std::fs::read_to_string(&table).unwrap().replacen("rs_demo_deletion ", &format!("{HOSTILE_ID} "), 1);
    std::fs::write(&table, text).unwrap();
    let targets = d.join("targets.txt");
    write_targets(&targets);
    let scores = d.join("out/scores.parquet");
    let counts = run_tiny(
        &table,
        &d.join("data/genome.fa"),
        &d.join("cache"),
        &scores,
        &["--targets", targets.to_str().unwrap()],
    );
    let scored = counts["scored"].as_u64().unwrap() as usize;
    assert!(scored >= 20, "{counts}");

    if let Some(py) = python() {
        let out = Command::new(py)
            .arg(root().join("scripts/check_summary_columns.py"))
            .arg(&scores)
            .arg("--expect-classes=DNASE,ATAC,CHIP,CAGE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
    }

    check_plots(d, &scores);

    let html_path = d.join("out/report.html");
    let html = report(&scores, &html_path, &["--top-variants", "10"]);
    assert_eq!(html.matches("<script").count(), 1, "the report's own script only, no hostile string as a tag");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url("), "no network");
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    assert!(html.contains("rs1&quot;&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;"), "hostile id escaped");
    // The run's manifest is found beside the scores: statuses with their counts are in the summary.
    assert!(html.contains("status: ok") && html.contains("Kunkle"), "run summary lacks the manifest");
    assert!(html.matches("<h3>").count() >= 1 && html.matches("<svg").count() >= 3, "the demo has GWAS loci");
    // The run's step records (its work folder beside the scores): sequences and time per step.
    for want in ["sequences needed (1 shard)", "cached (not computed)", "computed", "failed", "Time per step"] {
        assert!(html.contains(want), "run summary lacks {want}");
    }
    for step in ["extract-seqs", "check-cache", "predict", "merge"] {
        assert!(html.contains(&format!("<tr class=\"timing-row\"><td>{step}</td>")), "no timing row for {step}");
    }
    assert!(html.contains("parse ") && html.contains("lookup ") && html.contains("compose "), "stage busy times");
    // Loci over whole chromosomes: the demo's rows that were not scored (a too-long allele, an invalid one,
    // a REF mismatch) are drawn and listed with their status.
    let wide = report(&scores, &d.join("out/wide.html"), &["--locus-radius", "1000000", "--loci", "3"]);
    assert!(wide.contains("<table class=\"unscored\">"), "no unscored rows listed");
    assert!(wide.contains("allele_too_long") && wide.contains("not scored (status below)"), "statuses and legend");
    // Without the step records: said plainly.
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let empty = d.join("empty").to_str().unwrap().to_string();
    let bare = report(&scores, &d.join("out/bare.html"), &["--work-dir", &empty]);
    assert!(bare.contains("no step records in") && bare.contains("--remove-work"), "absent records not said");
    assert!(!bare.contains("Time per step") && bare.contains("variants.parquet was not found"));
    let out = bin()
        .args(["report", "--scores", scores.to_str().unwrap(), "--out", d.join("x.html").to_str().unwrap()])
        .args(["--work-dir", d.join("nope").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nope") && err.contains("is not a folder; fix:"), "{err}");
    let Some((shot, _)) = check_in_browser(&html_path, 10, &[HOSTILE_ID, HOSTILE_DESC_SHOWN]) else {
        return;
    };
    // The README's screenshot is this one; keep a copy when asked (ENFORMER_VEP_SCREENSHOT=path).
    if let Some(dest) = std::env::var_os("ENFORMER_VEP_SCREENSHOT") {
        std::fs::copy(&shot, dest).unwrap();
    }
}

/// `plot` for two scored variants (one with the hostile ID, for a safe file name): valid SVG with, per track,
/// one ref, one alt and one difference series and the expected axis titles; a PNG that decodes to the same
/// size with content.
fn check_plots(d: &Path, scores: &Path) {
    let ids: Vec<String> = strings(&read_batches(scores), "id").into_iter().flatten().collect();
    assert!(ids.iter().any(|i| i == HOSTILE_ID), "the hostile ID was scored");
    let out = d.join("plots");
    let o = run_ok(&[
        "plot",
        "--scores",
        scores.to_str().unwrap(),
        "--cache",
        d.join("cache").to_str().unwrap(),
        "--variant",
        HOSTILE_ID,
        "--variant",
        &ids[1],
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    let files: Vec<PathBuf> = walk(&out);
    assert_eq!(files.len(), 4, "{files:?} {}", String::from_utf8_lossy(&o.stderr));
    for svg in files.iter().filter(|f| f.extension().is_some_and(|e| e == "svg")) {
        let text = std::fs::read_to_string(svg).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let stroke = |c: &str| {
            doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(c)).count()
        };
        // Default: the 3 strongest tracks; ref blue, alt orange, difference green.
        assert_eq!((stroke("#0072B2"), stroke("#D55E00"), stroke("#009E73")), (3, 3, 3), "{}", svg.display());
        let texts: Vec<String> =
            doc.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).map(|t| t.trim().to_string()).collect();
        let count = |s: &str| texts.iter().filter(|t| t.contains(s)).count();
        assert_eq!((count("prediction"), count("alt − ref"), count("position (bp)")), (3, 3, 3), "{}", svg.display());
        let png = svg.with_extension("png");
        let (w, h, rgba) = decode_png(&png);
        let (sw, sh) =
            (doc.root_element().attribute("width").unwrap(), doc.root_element().attribute("height").unwrap());
        assert_eq!((w.to_string(), h.to_string()), (sw.to_string(), sh.to_string()));
        let inked = rgba.chunks_exact(4).filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200).count();
        assert!(inked * 100 > rgba.len() / 4, "{} is blank", png.display());
    }
    assert!(out.join("rs1__script_alert__id____script_.svg").is_file(), "hostile ID → safe file name: {files:?}");
}

#[test]
fn plot_refuses_a_summary_cache_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&[
        "demo-data",
        "--out-dir",
        d.join("data").to_str().unwrap(),
        "--genome-size",
        "300000",
        "--variants",
        "10",
    ]);
    let scores = d.join("scores.parquet");
    let extra = ["--store", "summary", "--top", "1", "--stats", "SAD,logSED,CENTER"];
    run_tiny(&d.join("data/variants.kunkle.txt"), &d.join("data/genome.fa"), &d.join("cache"), &scores, &extra);
    let id = strings(&read_batches(&scores), "id").into_iter().flatten().next().unwrap();
    let cache = d.join("cache");
    let args = ["plot", "--scores", scores.to_str().unwrap(), "--cache", cache.to_str().unwrap()];
    let out = bin().args(args).args(["--variant", &id, "--out-dir", d.join("p").to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("summary entries") && err.contains("fix: predict into a float32"), "{err}");
    assert!(!d.join("p").exists());
}

#[test]
fn report_refuses_what_it_cannot_read_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let not_parquet = d.join("x.parquet");
    std::fs::write(&not_parquet, "chrom\tpos\n").unwrap();
    let out = bin().args(["report", "--scores", not_parquet.to_str().unwrap(), "--out", "r.html"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("x.parquet") && err.contains("not a Parquet file"), "{err}");
    let out = bin().args(["report", "--scores", "s.parquet", "--out", "r.html", "--class", "RNA"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["report", "--scores", "s.parquet", "--out", "r.html", "--stat", "max"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn real_data_report_names_the_tracks_from_targets_human() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let vcf = real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    // The tiny model has 16 tracks: name them with the first 16 rows of the real targets file.
    let text = std::fs::read_to_string(real.join("targets/targets_human.txt")).unwrap();
    let targets = d.join("targets16.txt");
    std::fs::write(&targets, text.lines().take(17).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let scores = d.join("scores.parquet");
    let counts = run_tiny(
        &vcf,
        &genome,
        &d.join("cache"),
        &scores,
        &["--region", "20:100000-104000", "--targets", targets.to_str().unwrap()],
    );
    let scored = counts["scored"].as_u64().unwrap() as usize;
    assert!(scored > 0, "{counts}");
    let html_path = d.join("report.html");
    let html = report(&scores, &html_path, &["--top-variants", "500"]);
    let named = text.lines().skip(1).take(16).any(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        html.contains(&format!("{} {}", f[2], f[7]))
    });
    assert!(named, "the real track identifiers and descriptions are shown");
    check_in_browser(&html_path, scored, &[]);
}

/// Issue 13: a real GWAS table on the real chr20 slice gives a locus view. qmplot's PLINK 2 table has one row
/// in the slice (chr20:168,728, REF T as in hg19) and two just past its end (377,226 and 389,984, with
/// p-values): the view shows the scored one coloured and circled as the lead, and the two rows that could
/// not be scored (position_out_of_range) as grey crosses listed with their status. The GoNL VCF above has no
/// p-values, so it has no locus.
#[test]
fn real_gwas_table_gives_a_locus_view_with_the_rows_not_scored() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let table = real.join("gwas/qmplot_plink2_glm_linear.build_unknown.tsv");
    let scores = d.join("scores.parquet");
    let counts = run_tiny(&table, &genome, &d.join("cache"), &scores, &[]);
    assert_eq!(counts["scored"], 1, "{counts}");
    let html_path = d.join("report.html");
    let html = report(&scores, &html_path, &["--locus-radius", "250000"]);
    let heading = "<h3>20_168728 (chr20:0-418728, 1 scored, 2 not scored)</h3>";
    assert!(html.contains(heading), "no locus view of the real table");
    let Some((_, dom)) = check_in_browser(&html_path, 1, &[]) else { return };
    assert!(dom.contains(heading), "the locus view is not in the DOM");
    let unscored = dom.split("<table class=\"unscored\">").nth(1).expect("the rows not scored are listed");
    let unscored = unscored.split("</table>").next().unwrap();
    for want in ["20_377226", "20_389984", "position_out_of_range", "3.796e-1"] {
        assert!(unscored.contains(want), "{want} missing from the rows not scored: {unscored}");
    }
    assert!(dom.contains("not scored (status below)"), "the legend names the grey crosses");
}
