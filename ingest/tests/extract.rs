//! Charset choice and HTML extraction on bytes as servers send them.

use encoding_rs::{WINDOWS_1251, WINDOWS_1256};
use ingest::{extract, extract_with, ContentKind, ExtractLimits};
use url::Url;

const RUSSIAN: &str = "Призыв к насилию опубликован на этой странице. Модераторы должны \
                       проверить содержание и принять решение о блокировке материала.";
const ARABIC: &str = "هذه الصفحة تحرض على العنف ويجب إزالتها";

#[test]
fn utf8_with_bom_and_no_label() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(format!("<html><title>Привет</title><p>{RUSSIAN}</p>").as_bytes());
    let e = extract(&body, None, None);
    assert_eq!(e.kind, ContentKind::Html);
    assert_eq!(e.charset, "UTF-8");
    assert!(!e.decode_errors);
    assert_eq!(e.title.as_deref(), Some("Привет"));
    assert_eq!(e.text, RUSSIAN);
}

#[test]
fn bom_beats_header_and_meta() {
    let mut body = b"\xEF\xBB\xBF<meta charset=windows-1251>".to_vec();
    body.extend_from_slice("<p>Ё</p>".as_bytes());
    let e = extract(&body, Some("text/html; charset=iso-8859-1"), None);
    assert_eq!(e.charset, "UTF-8");
    assert_eq!(e.text, "Ё");
}

#[test]
fn windows_1251_via_meta() {
    let html = format!(
        "<!doctype html><html lang=ru><head><meta http-equiv=\"Content-Type\" \
         content=\"text/html; charset=windows-1251\"><title>Заголовок</title></head>\
         <body><p>{RUSSIAN}</p></body></html>"
    );
    let (bytes, _, _) = WINDOWS_1251.encode(&html);
    let e = extract(&bytes, Some("text/html"), None);
    assert_eq!(e.charset, "windows-1251");
    assert_eq!(e.title.as_deref(), Some("Заголовок"));
    assert_eq!(e.text, RUSSIAN);
    assert_eq!(e.html_lang.as_deref(), Some("ru"));
}

#[test]
fn windows_1256_via_header_beats_meta() {
    let html =
        format!("<html><head><meta charset=utf-8></head><body><p>{ARABIC}</p></body></html>");
    let (bytes, _, had_unmappable) = WINDOWS_1256.encode(&html);
    assert!(!had_unmappable);
    let e = extract(&bytes, Some("text/html; charset=\"windows-1256\""), None);
    assert_eq!(e.charset, "windows-1256");
    assert_eq!(e.text, ARABIC);
    assert!(!e.decode_errors);
}

#[test]
fn unlabelled_legacy_bytes_are_detected() {
    let html = format!("<html><body><p>{RUSSIAN} {RUSSIAN}</p></body></html>");
    let (bytes, _, _) = WINDOWS_1251.encode(&html);
    let base = Url::parse("https://example.ru/").unwrap();
    let e = extract(&bytes, None, Some(&base));
    assert_eq!(e.charset, "windows-1251");
    assert!(e.text.starts_with(RUSSIAN));
}

#[test]
fn invalid_bytes_are_flagged_not_fatal() {
    let e = extract(
        b"<p>ok \xff\xfe broken</p>",
        Some("text/html; charset=utf-8"),
        None,
    );
    assert!(e.decode_errors);
    assert_eq!(e.text, "ok \u{fffd}\u{fffd} broken");
}

#[test]
fn title_text_links_and_images() {
    let html = r#"<!doctype html>
<html lang="en-GB">
<head>
  <title>  A   page
  title </title>
  <meta name="Description" content=" What  this page is ">
  <style>p { color: red }</style>
  <script>var secret = "not text";</script>
</head>
<body>
  <h1>Heading</h1>
  <p>First   paragraph with <b>bold</b>text and
     a <a href="/next?id=1#frag">link</a>.</p>
  <p>Second<br>line</p>
  <noscript>enable javascript</noscript>
  <template><p>template text</p></template>
  <script>document.write("nope")</script>
  <ul><li>one</li><li>two</li></ul>
  <table><tr><td>cell a</td><td>cell b</td></tr></table>
  <a href="https://other.example/x">abs</a>
  <a href="javascript:alert(1)">js</a>
  <a href="/next?id=1">dup</a>
  <img src="img/a.png"><img src="data:image/png;base64,AAAA"><img src="//cdn.example/b.jpg">
</body>
</html>"#;
    let base = Url::parse("https://site.example/dir/page.html").unwrap();
    let e = extract(html.as_bytes(), Some("text/html"), Some(&base));
    assert_eq!(e.title.as_deref(), Some("A page title"));
    assert_eq!(e.meta_description.as_deref(), Some("What this page is"));
    assert_eq!(e.html_lang.as_deref(), Some("en-GB"));
    assert_eq!(
        e.text,
        "Heading\nFirst paragraph with boldtext and a link.\nSecond\nline\none\ntwo\ncell a cell b\nabs js dup"
    );
    assert!(!e.text.contains("secret") && !e.text.contains("nope") && !e.text.contains("color"));
    assert!(!e.text.contains("template") && !e.text.contains("enable javascript"));
    assert_eq!(
        e.links,
        ["https://site.example/next?id=1", "https://other.example/x"]
    );
    assert_eq!(
        e.images,
        [
            "https://site.example/dir/img/a.png",
            "https://cdn.example/b.jpg"
        ]
    );
}

#[test]
fn base_element_and_no_base() {
    let html = r#"<base href="https://mirror.example/root/"><a href="a">a</a><img src="i.png">"#;
    let given = Url::parse("https://site.example/").unwrap();
    let e = extract(html.as_bytes(), Some("text/html"), Some(&given));
    assert_eq!(e.links, ["https://mirror.example/root/a"]);
    let e = extract(b"<a href='rel/x'>x</a>", Some("text/html"), None);
    assert_eq!(e.links, ["rel/x"]);
}

#[test]
fn plain_text_and_binary() {
    let e = extract(
        "line one\n\n  line two  ".as_bytes(),
        Some("text/plain"),
        None,
    );
    assert_eq!(e.kind, ContentKind::Text);
    assert_eq!(e.text, "line one\n\n  line two  ");
    assert_eq!(e.title, None);
    // Labelled as HTML, but a PNG.
    let e = extract(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("text/html"), None);
    assert_eq!(e.kind, ContentKind::Other);
    assert!(e.text.is_empty());
    // Unlabelled HTML is sniffed.
    let e = extract(b"  <!DOCTYPE html><title>t</title><p>x", None, None);
    assert_eq!(e.kind, ContentKind::Html);
    assert_eq!(e.text, "x");
}

#[test]
fn text_is_capped() {
    let html = format!("<p>{}</p>", "word ".repeat(100_000));
    let limits = ExtractLimits {
        max_text_bytes: 1000,
        ..ExtractLimits::default()
    };
    let e = extract_with(html.as_bytes(), Some("text/html"), None, &limits);
    assert!(e.text_truncated);
    assert!(e.text.len() <= 1000);
    let limits = ExtractLimits {
        max_input_bytes: 100,
        ..ExtractLimits::default()
    };
    let e = extract_with(html.as_bytes(), Some("text/html"), None, &limits);
    assert!(e.input_truncated);
    assert!(e.text.len() < 100);
}

/// The depth cap is what keeps this fast (about 0.1 s in release; unbounded, html5ever takes
/// 17 s): the test checks that the cap applied, `benches/deep_html.rs` measures the time.
#[test]
fn deeply_nested_html_is_cut_at_the_depth_cap() {
    let html = format!(
        "{}<p>deep text</p>{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let e = extract(html.as_bytes(), Some("text/html"), None);
    assert_eq!(e.text, "deep text");
    assert!(e.input_truncated);

    // Unclosed inline elements nest as deep.
    let html = format!("{}x", "<span><b><i>".repeat(40_000));
    let e = extract(html.as_bytes(), Some("text/html"), None);
    assert_eq!(e.text, "x");
    assert!(e.input_truncated);
}

#[test]
fn main_text_drops_page_furniture_and_keeps_the_article() {
    let html = r#"<!doctype html><html lang="fr"><head>
<meta http-equiv="Content-Language" content="fr-FR"><meta property="og:locale" content="fr_FR">
<title>Article</title></head><body>
<header class="site-header"><a href="/">Logo</a> Site name</header>
<nav><a href="/a">Home</a> <a href="/b">World</a> <a href="/c">Sport</a></nav>
<div class="cookie-banner">We use cookies. <button>Accept</button></div>
<ul class="links"><li><a href="/x">One link</a></li><li><a href="/y">Another link</a></li></ul>
<article>
  <header><h1>The headline of the story</h1></header>
  <p>The first paragraph of the story is long enough to be the content of the page.</p>
  <p>A second paragraph with <a href="/ref">a reference</a> inside a sentence of its own.</p>
  <div class="share">Share on social media</div>
</article>
<aside>Most read: other stories</aside>
<footer>Copyright and legal notice</footer>
</body></html>"#;
    let e = extract(html.as_bytes(), Some("text/html"), None);
    assert_eq!(
        e.main_text,
        "The headline of the story\n\
         The first paragraph of the story is long enough to be the content of the page.\n\
         A second paragraph with a reference inside a sentence of its own."
    );
    // The full text keeps everything visible.
    for furniture in [
        "Logo",
        "Home",
        "cookies",
        "Most read",
        "Copyright",
        "Share on",
        "One link",
    ] {
        assert!(e.text.contains(furniture), "{furniture}");
        assert!(!e.main_text.contains(furniture), "{furniture}");
    }
    assert_eq!(e.html_lang.as_deref(), Some("fr"));
    assert_eq!(e.meta_content_language.as_deref(), Some("fr-FR"));
    assert_eq!(e.og_locale.as_deref(), Some("fr_FR"));

    // Without an article element: everything but furniture and link lists.
    let html = "<body><div id=menu><a href=/1>A</a> <a href=/2>B</a></div>\
                <div><p>Body text of a page without markup for its content.</p>\
                <p><a href=/3>Only a link</a></p></div><div class=footer>Legal</div></body>";
    let e = extract(html.as_bytes(), Some("text/html"), None);
    assert_eq!(
        e.main_text,
        "Body text of a page without markup for its content."
    );
    // Plain text is its own main text.
    let e = extract(b"just words", Some("text/plain"), None);
    assert_eq!(e.main_text, "just words");
}

#[test]
fn utf16_with_bom_decodes() {
    let text = "<html><body><p>Привет, мир</p></body></html>";
    let mut le = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
    }
    let e = extract(&le, Some("text/html"), None);
    assert_eq!(e.charset, "UTF-16LE");
    assert_eq!(e.text, "Привет, мир");
    assert!(!e.decode_errors);
}

#[test]
fn meta_charset_after_1024_bytes_falls_back_to_detection() {
    // The prescan stops at 1024 bytes (WHATWG), so a late <meta> is not seen; the detector
    // still recognises the windows-1251 bytes.
    let html = format!(
        "<html><head><!--{}--><meta charset=koi8-r></head><body><p>{RUSSIAN} {RUSSIAN}</p></body></html>",
        " ".repeat(1100)
    );
    let (bytes, _, _) = WINDOWS_1251.encode(&html);
    let e = extract(&bytes, Some("text/html"), None);
    assert_eq!(e.charset, "windows-1251");
    assert!(e.text.starts_with(RUSSIAN));
}

#[test]
fn unlabelled_shift_jis_is_detected() {
    let text = "<html><body><p>これは日本語のニュース記事です。裁判所は本日、事件の審理を延期しました。</p></body></html>";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    let e = extract(&bytes, None, None);
    assert_eq!(e.charset, "Shift_JIS");
    assert!(e.text.contains("裁判所"));
    assert!(!e.decode_errors);
}

#[test]
fn nul_bytes_and_huge_text_are_bounded() {
    let e = extract(b"<p>a\0b</p>\0\0<p>c</p>", Some("text/html"), None);
    assert!(
        e.text.starts_with('a') && e.text.ends_with('c'),
        "{:?}",
        e.text
    );
    // 50 MB of text: only the first max_input_bytes are looked at, the text is capped.
    let big = "word ".repeat(10 * 1024 * 1024);
    let e = extract(big.as_bytes(), Some("text/plain"), None);
    assert!(e.input_truncated && e.text_truncated);
    assert_eq!(e.text.len(), ExtractLimits::default().max_text_bytes);
    let html = format!("<p>{big}</p>");
    let e = extract(html.as_bytes(), Some("text/html"), None);
    assert!(e.input_truncated && e.text_truncated);
    assert!(e.text.len() <= ExtractLimits::default().max_text_bytes);
}

#[test]
fn content_type_lies_are_sniffed() {
    // A page served as an image is processed as a page.
    let e = extract(
        b"<!DOCTYPE html><title>t</title><p>page</p>",
        Some("image/png"),
        None,
    );
    assert_eq!(e.kind, ContentKind::Html);
    assert_eq!(e.text, "page");
    // An image served as a page is not decoded as text.
    let e = extract(
        b"GIF89a\x01\x00\x01\x00",
        Some("text/html; charset=utf-8"),
        None,
    );
    assert_eq!(e.kind, ContentKind::Other);
    assert!(e.text.is_empty());
}
