//! Bytes → text. The charset is chosen the WHATWG way (BOM, header, `<meta>` prescan, then
//! chardetng), HTML is parsed with html5ever (via scraper) and walked without recursion. Every
//! stage is capped so hostile markup costs bounded time and memory. Synchronous and CPU-bound:
//! callers run it in `spawn_blocking`.

use std::collections::HashSet;
use std::sync::LazyLock;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use scraper::Html;
use serde::{Deserialize, Serialize};
use url::Url;

/// What kind of content the bytes turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    Html,
    Text,
    /// Binary content (image, PDF, archive…): nothing is decoded.
    Other,
}

/// Text and metadata extracted from one body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    pub kind: ContentKind,
    /// The encoding used to decode (WHATWG name, e.g. `UTF-8`, `windows-1251`); empty for
    /// [`ContentKind::Other`].
    pub charset: String,
    /// The bytes were not valid in that encoding; the bad parts became U+FFFD.
    pub decode_errors: bool,
    pub title: Option<String>,
    /// Visible text: one line per block element, whitespace collapsed within lines.
    pub text: String,
    /// The main text: [`Extracted::text`] without boilerplate — navigation, headers and
    /// footers of the page, sidebars, forms, cookie banners, share and comment widgets, and
    /// lines that are mostly links. When the page marks its content (`article`, `main`,
    /// `role=main`, `itemprop=articleBody`) and that holds enough text, only that. Plain text
    /// is its own main text.
    pub main_text: String,
    pub text_truncated: bool,
    /// Part of the input was not looked at (over the byte, node or depth limit).
    pub input_truncated: bool,
    pub html_lang: Option<String>,
    /// `<meta http-equiv="content-language" content="…">`.
    pub meta_content_language: Option<String>,
    /// `<meta property="og:locale" content="…">`.
    pub og_locale: Option<String>,
    pub meta_description: Option<String>,
    /// `a`/`area` targets, absolute when a base URL is known; `javascript:` and `data:` dropped.
    pub links: Vec<String>,
    /// `img` sources, absolute when a base URL is known; `data:` dropped.
    pub images: Vec<String>,
}

/// Bounds on one extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Bytes of input looked at; the rest is ignored.
    pub max_input_bytes: usize,
    /// Bytes of extracted text kept.
    pub max_text_bytes: usize,
    /// Element nesting kept by the parser; deeper start tags are dropped (their text is kept).
    pub max_depth: usize,
    /// Tree nodes walked.
    pub max_nodes: usize,
    /// Links and images kept, each.
    pub max_urls: usize,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_input_bytes: 10 * 1024 * 1024,
            max_text_bytes: 2 * 1024 * 1024,
            max_depth: 256,
            max_nodes: 2_000_000,
            max_urls: 10_000,
        }
    }
}

/// Extracts text and metadata with [`ExtractLimits::default`]. `base` makes links absolute.
pub fn extract(body: &[u8], content_type: Option<&str>, base: Option<&Url>) -> Extracted {
    extract_with(body, content_type, base, &ExtractLimits::default())
}

/// [`extract`] with explicit limits.
pub fn extract_with(
    body: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    limits: &ExtractLimits,
) -> Extracted {
    let input_truncated = body.len() > limits.max_input_bytes;
    let body = &body[..body.len().min(limits.max_input_bytes)];
    let mut out = Extracted {
        kind: sniff_kind(body, content_type),
        charset: String::new(),
        decode_errors: false,
        title: None,
        text: String::new(),
        main_text: String::new(),
        text_truncated: false,
        input_truncated,
        html_lang: None,
        meta_content_language: None,
        og_locale: None,
        meta_description: None,
        links: Vec::new(),
        images: Vec::new(),
    };
    if out.kind == ContentKind::Other {
        return out;
    }
    let encoding = choose_encoding(body, content_type, out.kind == ContentKind::Html, base);
    // A BOM, if any, chose `encoding`; only its bytes are left to drop.
    let (decoded, had_errors) = encoding.decode_with_bom_removal(body);
    out.charset = encoding.name().to_string();
    out.decode_errors = had_errors;
    match out.kind {
        ContentKind::Html => extract_html(&decoded, base, limits, &mut out),
        _ => {
            let (text, cut) = truncate(&decoded, limits.max_text_bytes);
            out.text = text.to_string();
            out.main_text = out.text.clone();
            out.text_truncated = cut;
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// The MIME essence of a Content-Type value, lower case.
fn essence(content_type: Option<&str>) -> Option<String> {
    let ct = content_type?;
    let e = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!e.is_empty()).then_some(e)
}

/// The type is a hint: binary magic wins over any label, and an unlabelled or generic body is
/// HTML if it starts like HTML.
fn sniff_kind(body: &[u8], content_type: Option<&str>) -> ContentKind {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF87a",
        b"GIF89a",
        b"%PDF-",
        b"PK\x03\x04",
        b"\x1f\x8b",
        b"RIFF",
        b"\x00\x00\x01\x00",
        b"BM",
        b"OggS",
        b"\x1aE\xdf\xa3",
    ];
    if MAGIC.iter().any(|m| body.starts_with(m)) {
        return ContentKind::Other;
    }
    let essence = essence(content_type);
    // A page served with an image or binary label is still a page: the bytes decide.
    if looks_like_html(body) {
        return ContentKind::Html;
    }
    match essence.as_deref() {
        Some("text/html") | Some("application/xhtml+xml") => ContentKind::Html,
        Some(t) if t.starts_with("text/") && t != "text/plain" => ContentKind::Text,
        Some(t)
            if t.starts_with("image/") || t.starts_with("audio/") || t.starts_with("video/") =>
        {
            ContentKind::Other
        }
        Some("text/plain") | None => ContentKind::Text,
        Some(t) if t.ends_with("+xml") || t.ends_with("/json") || t.ends_with("/xml") => {
            ContentKind::Text
        }
        _ => ContentKind::Other,
    }
}

/// The WHATWG MIME-sniffing HTML signatures, after leading whitespace (and a UTF-8 BOM).
fn looks_like_html(body: &[u8]) -> bool {
    const TAGS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
        b"<meta",
    ];
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let head = &body[start..body.len().min(start + 16)];
    TAGS.iter().any(|tag| {
        head.len() > tag.len()
            && head[..tag.len()].eq_ignore_ascii_case(tag)
            && (tag == b"<!--" || matches!(head[tag.len()], b' ' | b'>' | b'\t' | b'\n' | b'\r'))
    })
}

/// BOM, then the header's charset, then (HTML) a `<meta>` prescan of the first 1024 bytes, then
/// chardetng's guess (given the base URL's TLD, as Firefox does).
fn choose_encoding(
    body: &[u8],
    content_type: Option<&str>,
    html: bool,
    base: Option<&Url>,
) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return enc;
    }
    if let Some(enc) = content_type.and_then(header_charset) {
        return enc;
    }
    if html {
        if let Some(enc) = meta_prescan(&body[..body.len().min(1024)]) {
            return enc;
        }
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(&body[..body.len().min(64 * 1024)], body.len() <= 64 * 1024);
    let tld = base
        .and_then(|u| u.host_str())
        .and_then(|h| h.trim_end_matches('.').rsplit('.').next())
        .map(str::as_bytes);
    detector.guess(tld, true)
}

/// `charset=` of a Content-Type value.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(v.trim().trim_matches(|c| c == '"' || c == '\'').as_bytes())
    })
}

/// A small version of the WHATWG "prescan a byte stream to determine its encoding": comments and
/// other markup are skipped, and the first `<meta charset>` or `<meta http-equiv=content-type
/// content="…charset=…">` wins.
fn meta_prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i += find(&rest[4..], b"-->").map_or(bytes.len(), |p| p + 4 + 3);
        } else if rest.len() > 5
            && rest[..5].eq_ignore_ascii_case(b"<meta")
            && matches!(rest[5], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/')
        {
            let (attrs, used) = parse_attributes(&rest[5..]);
            i += 5 + used;
            if let Some(enc) = meta_encoding(&attrs) {
                // A page cannot declare itself UTF-16 in ASCII-compatible bytes (WHATWG).
                return Some(match enc.name() {
                    "UTF-16LE" | "UTF-16BE" => UTF_8,
                    "x-user-defined" => WINDOWS_1252,
                    _ => enc,
                });
            }
        } else if rest.len() > 1
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic() || (rest[1] == b'/' && rest.len() > 2))
        {
            let skip = if rest[1] == b'/' { 2 } else { 1 };
            let name_end = rest[skip..]
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'>')
                .map_or(rest.len(), |p| p + skip);
            let (_, used) = parse_attributes(&rest[name_end..]);
            i += name_end + used;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"<?") || rest.starts_with(b"</") {
            i += find(rest, b">").map_or(bytes.len(), |p| p + 1);
        } else {
            i += 1;
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Attributes up to the closing `>`, lower-cased names; returns them and the bytes consumed.
fn parse_attributes(bytes: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut attrs = Vec::new();
    let mut i = 0;
    let n = bytes.len();
    loop {
        while i < n && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= n {
            return (attrs, n);
        }
        if bytes[i] == b'>' {
            return (attrs, i + 1);
        }
        let start = i;
        while i < n && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = String::from_utf8_lossy(&bytes[start..i]).to_ascii_lowercase();
        while i < n && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < n && bytes[i] == b'=' {
            i += 1;
            while i < n && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < n && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let vstart = i + 1;
                i = vstart;
                while i < n && bytes[i] != quote {
                    i += 1;
                }
                value = String::from_utf8_lossy(&bytes[vstart..i.min(n)]).into_owned();
                i = (i + 1).min(n);
            } else {
                let vstart = i;
                while i < n && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = String::from_utf8_lossy(&bytes[vstart..i]).into_owned();
            }
        }
        if !name.is_empty() && !attrs.iter().any(|(k, _)| *k == name) {
            attrs.push((name, value));
        }
    }
}

fn meta_encoding(attrs: &[(String, String)]) -> Option<&'static Encoding> {
    let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(cs) = get("charset") {
        return Encoding::for_label(cs.trim().as_bytes());
    }
    let is_ct = get("http-equiv").is_some_and(|v| v.trim().eq_ignore_ascii_case("content-type"));
    if is_ct {
        let content = get("content")?.to_ascii_lowercase();
        let at = content.find("charset")?;
        let rest = content[at + 7..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start();
        let rest = rest.trim_start_matches(['"', '\'']);
        let end = rest.find(|c: char| c == ';' || c == '"' || c == '\'' || c.is_whitespace());
        return Encoding::for_label(&rest.as_bytes()[..end.unwrap_or(rest.len())]);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// HTML

/// Elements whose content is never visible text.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template", "head", "iframe"];

/// Elements that start and end a line of text.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "ul",
];

/// Bytes of `<title>` text kept.
const MAX_TITLE_BYTES: usize = 4096;

fn extract_html(html: &str, base: Option<&Url>, limits: &ExtractLimits, out: &mut Extracted) {
    use ego_tree::iter::Edge;
    use scraper::Node;

    let (doc, depth_cut) = crate::parse::parse_bounded(html, limits.max_depth);
    out.input_truncated |= depth_cut;
    let base = document_base(&doc, base);
    let mut walk = HtmlWalk {
        out,
        base: base.as_ref(),
        text: TextBuilder::new(limits.max_text_bytes),
        main: MainText::new(limits.max_text_bytes),
        links: UrlSet::new(limits.max_urls),
        images: UrlSet::new(limits.max_urls),
        hidden_depth: 0,
        in_title: 0,
        title: String::new(),
        roles: Vec::new(),
        boiler_depth: 0,
        content_depth: 0,
        link_depth: 0,
    };
    let mut nodes = 0usize;
    // ego_tree's traverse is iterative, so depth cannot overflow the stack.
    for edge in doc.tree.root().traverse() {
        match edge {
            Edge::Open(node) => {
                nodes += 1;
                if nodes > limits.max_nodes {
                    walk.out.input_truncated = true;
                    break;
                }
                match node.value() {
                    Node::Element(el) => walk.open(el),
                    Node::Text(t) => walk.text(t),
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Node::Element(el) = node.value() {
                    walk.close(el);
                }
            }
        }
    }
    walk.finish();
}

/// What an open element means for the main text (a stack entry per open element).
#[derive(Clone, Copy, Default)]
struct Role {
    boilerplate: bool,
    content: bool,
    link: bool,
}

/// The state of one walk over a parsed document, filling `out`.
struct HtmlWalk<'a> {
    out: &'a mut Extracted,
    base: Option<&'a Url>,
    text: TextBuilder,
    main: MainText,
    links: UrlSet,
    images: UrlSet,
    /// Open elements whose content is not visible ([`HIDDEN`]).
    hidden_depth: usize,
    /// Inside the first `<title>`.
    in_title: usize,
    title: String,
    /// One entry per open element, so closing undoes what opening did.
    roles: Vec<Role>,
    /// Open boilerplate elements, content containers and links.
    boiler_depth: usize,
    content_depth: usize,
    link_depth: usize,
}

impl HtmlWalk<'_> {
    fn open(&mut self, el: &scraper::node::Element) {
        let name = el.name();
        if name == "title" && self.out.title.is_none() {
            self.in_title += 1;
        }
        match name {
            "html" if self.out.html_lang.is_none() => {
                self.out.html_lang = el.attr("lang").map(|l| l.trim().to_string());
            }
            "meta" => self.meta(el),
            _ => {}
        }
        let role = Role {
            boilerplate: is_boilerplate(el, self.content_depth > 0),
            content: is_content_container(el),
            link: matches!(name, "a" | "area"),
        };
        self.boiler_depth += usize::from(role.boilerplate);
        self.content_depth += usize::from(role.content);
        self.link_depth += usize::from(role.link);
        self.roles.push(role);
        if HIDDEN.contains(&name) {
            self.hidden_depth += 1;
        }
        if self.hidden_depth > 0 {
            return;
        }
        match name {
            "a" | "area" => self.links.push(el.attr("href"), self.base),
            "img" => self.images.push(el.attr("src"), self.base),
            "br" => self.line_break(),
            "td" | "th" => self.text.space(),
            _ if BLOCKS.contains(&name) => self.line_break(),
            _ => {}
        }
    }

    fn meta(&mut self, el: &scraper::node::Element) {
        let attr_is =
            |a: &str, v: &str| el.attr(a).is_some_and(|x| x.trim().eq_ignore_ascii_case(v));
        let content = || {
            el.attr("content")
                .map(|c| collapse(c.trim()))
                .filter(|c| !c.is_empty())
        };
        if self.out.meta_description.is_none() && attr_is("name", "description") {
            self.out.meta_description = content();
        } else if self.out.meta_content_language.is_none()
            && attr_is("http-equiv", "content-language")
        {
            self.out.meta_content_language = content();
        } else if self.out.og_locale.is_none() && attr_is("property", "og:locale") {
            self.out.og_locale = content();
        }
    }

    fn line_break(&mut self) {
        self.text.line_break();
        self.main.line_break();
    }

    fn text(&mut self, t: &str) {
        if self.in_title > 0 {
            let room = MAX_TITLE_BYTES.saturating_sub(self.title.len());
            self.title.push_str(truncate(t, room).0);
        } else if self.hidden_depth == 0 {
            self.text.push(t);
            if self.boiler_depth == 0 {
                self.main
                    .push(t, self.content_depth > 0, self.link_depth > 0);
            }
        }
    }

    fn close(&mut self, el: &scraper::node::Element) {
        let name = el.name();
        if name == "title" && self.in_title > 0 {
            self.in_title -= 1;
            if self.in_title == 0 {
                let t = collapse(self.title.trim());
                self.out.title = (!t.is_empty()).then_some(t);
            }
        }
        if HIDDEN.contains(&name) {
            self.hidden_depth -= 1;
        } else if self.hidden_depth == 0 && BLOCKS.contains(&name) {
            self.line_break();
        }
        if let Some(role) = self.roles.pop() {
            self.boiler_depth -= usize::from(role.boilerplate);
            self.content_depth -= usize::from(role.content);
            self.link_depth -= usize::from(role.link);
        }
    }

    fn finish(self) {
        self.out.text_truncated = self.text.truncated;
        self.out.text = self.text.finish();
        self.out.main_text = self.main.finish();
        self.out.links = self.links.items;
        self.out.images = self.images.items;
    }
}

/// Substrings of `class`/`id` values that mark page furniture (after Readability's "unlikely
/// candidates"), and those that rescue an element anyway.
const BOILERPLATE_HINTS: &[&str] = &[
    "nav",
    "menu",
    "footer",
    "header",
    "masthead",
    "sidebar",
    "breadcrumb",
    "cookie",
    "consent",
    "gdpr",
    "banner",
    "share",
    "social",
    "comment",
    "related",
    "promo",
    "sponsor",
    "advert",
    "ad-",
    "-ad",
    "subscribe",
    "newsletter",
    "popup",
    "modal",
    "pagination",
    "pager",
    "skip",
    "toolbar",
    "widget",
    "rss",
];
const CONTENT_HINTS: &[&str] = &["article", "content", "main", "body", "story", "post-text"];

/// Elements whose text is page furniture. An `<header>`/`<footer>` inside an article is the
/// article's own (its headline, its byline) and stays.
fn is_boilerplate(el: &scraper::node::Element, inside_content: bool) -> bool {
    match el.name() {
        "nav" | "aside" | "form" | "menu" | "dialog" | "button" | "select" => return true,
        "header" | "footer" if !inside_content => return true,
        _ => {}
    }
    if let Some(role) = el.attr("role") {
        let role = role.trim().to_ascii_lowercase();
        if matches!(
            role.as_str(),
            "navigation"
                | "banner"
                | "contentinfo"
                | "complementary"
                | "search"
                | "menu"
                | "menubar"
                | "dialog"
                | "alertdialog"
                | "toolbar"
        ) {
            return true;
        }
    }
    if el.attr("hidden").is_some() || el.attr("aria-hidden").is_some_and(|v| v.trim() == "true") {
        return true;
    }
    let mut hints = String::new();
    for a in ["class", "id"] {
        if let Some(v) = el.attr(a) {
            hints.push_str(&v.to_ascii_lowercase());
            hints.push(' ');
        }
    }
    !hints.is_empty()
        && BOILERPLATE_HINTS.iter().any(|h| hints.contains(h))
        && !CONTENT_HINTS.iter().any(|h| hints.contains(h))
}

/// Elements that say "this is the content".
fn is_content_container(el: &scraper::node::Element) -> bool {
    matches!(el.name(), "article" | "main")
        || el
            .attr("role")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("main"))
        || el
            .attr("itemprop")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("articleBody"))
}

/// Bytes of text a content container must hold to be the main text on its own.
const MIN_CONTAINER_TEXT: usize = 140;

/// Builds the main text line by line, twice: everything outside boilerplate, and only what is
/// inside content containers. A line whose text is mostly link text (a menu that escaped the
/// element rules) is dropped from both.
struct MainText {
    all: TextBuilder,
    container: TextBuilder,
    line: String,
    line_links: usize,
    line_in_container: bool,
}

impl MainText {
    fn new(max: usize) -> Self {
        MainText {
            all: TextBuilder::new(max),
            container: TextBuilder::new(max),
            line: String::new(),
            line_links: 0,
            line_in_container: false,
        }
    }

    fn push(&mut self, t: &str, in_container: bool, in_link: bool) {
        // A line is at most a few kilobytes in real pages; cap it anyway.
        if self.line.len() > 64 * 1024 {
            return;
        }
        let before = self.line.len();
        if t.starts_with(char::is_whitespace) && !self.line.is_empty() {
            self.line.push(' ');
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        self.line.push_str(&words.join(" "));
        if t.ends_with(char::is_whitespace) && !words.is_empty() {
            self.line.push(' ');
        }
        if in_link {
            self.line_links += self.line.len() - before;
        }
        self.line_in_container |= in_container;
    }

    fn line_break(&mut self) {
        let line = self.line.trim();
        let link_heavy = self.line_links * 2 > line.len() && line.len() < 400;
        if !line.is_empty() && !link_heavy {
            self.all.line_break();
            self.all.push(line);
            if self.line_in_container {
                self.container.line_break();
                self.container.push(line);
            }
        }
        self.line.clear();
        self.line_links = 0;
        self.line_in_container = false;
    }

    fn finish(mut self) -> String {
        self.line_break();
        let container = self.container.finish();
        if container.len() >= MIN_CONTAINER_TEXT {
            container
        } else {
            self.all.finish()
        }
    }
}

/// The base for relative links: the document's first `<base href>`, resolved against the
/// given URL, when it is http(s); else the given URL.
fn document_base(doc: &Html, base: Option<&Url>) -> Option<Url> {
    static SELECTOR: LazyLock<scraper::Selector> =
        LazyLock::new(|| scraper::Selector::parse("base[href]").expect("static selector"));
    let href = doc
        .select(&SELECTOR)
        .next()
        .and_then(|b| b.value().attr("href"));
    let doc_base = match (href, base) {
        (Some(href), Some(base)) => base.join(href.trim()).ok(),
        (Some(href), None) => Url::parse(href.trim()).ok(),
        _ => None,
    };
    doc_base
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .or_else(|| base.cloned())
}

/// Collapses runs of whitespace into one space.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds the visible text: words separated by one space, blocks by one newline, capped.
struct TextBuilder {
    out: String,
    max: usize,
    pending_space: bool,
    pending_newline: bool,
    truncated: bool,
}

impl TextBuilder {
    fn new(max: usize) -> Self {
        TextBuilder {
            out: String::new(),
            max,
            pending_space: false,
            pending_newline: false,
            truncated: false,
        }
    }

    fn line_break(&mut self) {
        self.pending_newline = true;
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn push(&mut self, s: &str) {
        if self.truncated {
            return;
        }
        if s.starts_with(char::is_whitespace) {
            self.pending_space = true;
        }
        for word in s.split_whitespace() {
            let sep = if self.out.is_empty() {
                ""
            } else if self.pending_newline {
                "\n"
            } else if self.pending_space {
                " "
            } else {
                ""
            };
            if self.out.len() + sep.len() + word.len() > self.max {
                let room = self.max.saturating_sub(self.out.len() + sep.len());
                let (part, _) = truncate(word, room);
                if !part.is_empty() {
                    self.out.push_str(sep);
                    self.out.push_str(part);
                }
                self.truncated = true;
                return;
            }
            self.out.push_str(sep);
            self.out.push_str(word);
            self.pending_newline = false;
            self.pending_space = true;
        }
        self.pending_space = s.ends_with(char::is_whitespace);
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Distinct URLs in document order, capped.
struct UrlSet {
    items: Vec<String>,
    seen: HashSet<String>,
    max: usize,
}

impl UrlSet {
    fn new(max: usize) -> Self {
        UrlSet {
            items: Vec::new(),
            seen: HashSet::new(),
            max,
        }
    }

    fn push(&mut self, raw: Option<&str>, base: Option<&Url>) {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return;
        };
        if self.items.len() >= self.max {
            return;
        }
        let lower = raw.get(..11).unwrap_or(raw).to_ascii_lowercase();
        if lower.starts_with("javascript:") || lower.starts_with("data:") {
            return;
        }
        let url = match base {
            Some(base) => match base.join(raw) {
                Ok(mut u) => {
                    u.set_fragment(None);
                    u.to_string()
                }
                Err(_) => return,
            },
            None => raw.to_string(),
        };
        if self.seen.insert(url.clone()) {
            self.items.push(url);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prescan_finds_meta_after_comments_and_other_tags() {
        let html = b"<!-- <meta charset=koi8-r> --><html><head><meta name=x content=y>\
            <meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">";
        assert_eq!(meta_prescan(html).unwrap().name(), "windows-1251");
        assert_eq!(
            meta_prescan(b"<meta charset='utf-16le'>").unwrap().name(),
            "UTF-8"
        );
        assert_eq!(
            meta_prescan(b"<META CHARSET=Shift_JIS>").unwrap().name(),
            "Shift_JIS"
        );
        assert!(meta_prescan(b"<p>no meta here</p>").is_none());
    }

    #[test]
    fn header_charset_is_parsed() {
        assert_eq!(
            header_charset("text/html; charset=\"windows-1256\"")
                .unwrap()
                .name(),
            "windows-1256"
        );
        assert!(header_charset("text/html").is_none());
    }

    #[test]
    fn kinds_are_sniffed() {
        assert_eq!(
            sniff_kind(b"\x89PNG\r\n\x1a\n....", Some("text/html")),
            ContentKind::Other
        );
        assert_eq!(
            sniff_kind(b"  <!DOCTYPE html><p>x", None),
            ContentKind::Html
        );
        assert_eq!(
            sniff_kind(b"<html>", Some("application/octet-stream")),
            ContentKind::Html
        );
        assert_eq!(sniff_kind(b"plain words", None), ContentKind::Text);
        assert_eq!(
            sniff_kind(b"plain words", Some("text/plain; charset=utf-8")),
            ContentKind::Text
        );
        assert_eq!(
            sniff_kind(b"\x00\x01", Some("application/octet-stream")),
            ContentKind::Other
        );
    }

    #[test]
    fn a_long_title_is_capped_and_stays_out_of_the_text() {
        let html = format!("<body><title>{}</title><p>body", "t".repeat(10_000));
        let e = extract(html.as_bytes(), Some("text/html"), None);
        assert_eq!(e.title.map(|t| t.len()), Some(MAX_TITLE_BYTES));
        assert_eq!(e.text, "body");
    }

    #[test]
    fn text_builder_keeps_lines_and_collapses_spaces() {
        let mut t = TextBuilder::new(100);
        t.push("  hello \n  world ");
        t.line_break();
        t.push("next");
        t.push("word");
        t.push(" spaced");
        assert_eq!(t.finish(), "hello world\nnextword spaced");
        let mut t = TextBuilder::new(8);
        t.push("abcdef ghijkl");
        assert!(t.truncated);
        assert_eq!(t.finish(), "abcdef g");
    }
}
