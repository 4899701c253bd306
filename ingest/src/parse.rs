//! HTML parsing with a depth bound. html5ever's tree builder scans the stack of open elements
//! for many start tags, so 100k nested `<div>`s cost O(n²) (17 s measured). A filter between
//! tokenizer and tree builder drops start tags (and their end tags) once the tree is
//! `max_depth` deep; the text inside them is kept, at the capped depth.

use std::borrow::Cow;
use std::collections::HashMap;

use ego_tree::NodeId;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    TokenizerResult,
};
use html5ever::tree_builder::{
    ElementFlags, NextParserState, NodeOrText, QuirksMode, TreeBuilder, TreeBuilderOpts, TreeSink,
};
use html5ever::{local_name, Attribute, ExpandedName, LocalName, QualName};
use scraper::Html;

/// Parses `html` as a document; the flag is true if start tags were dropped for depth.
pub(crate) fn parse_bounded(html: &str, max_depth: usize) -> (Html, bool) {
    let sink = DepthSink {
        html: Html::new_document(),
        current: None,
    };
    let filter = DepthFilter {
        builder: TreeBuilder::new(sink, TreeBuilderOpts::default()),
        max_depth,
        dropped: HashMap::new(),
        cut: false,
    };
    let mut tokenizer = Tokenizer::new(filter, TokenizerOpts::default());
    let mut input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // Scripts are never run; a Script result only means "resume feeding".
    while let TokenizerResult::Script(_) = tokenizer.feed(&mut input) {}
    tokenizer.end();
    let filter = tokenizer.sink;
    (filter.builder.sink.html, filter.cut)
}

/// Elements that never hold children.
fn is_void(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("area")
            | local_name!("base")
            | local_name!("br")
            | local_name!("col")
            | local_name!("embed")
            | local_name!("hr")
            | local_name!("img")
            | local_name!("input")
            | local_name!("link")
            | local_name!("meta")
            | local_name!("param")
            | local_name!("source")
            | local_name!("track")
            | local_name!("wbr")
    )
}

/// Elements whose content the tokenizer must read as raw text: dropping their start tag would
/// turn a script into visible text, so they pass even at the cap (they add one level at most).
fn is_raw_text(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("script")
            | local_name!("style")
            | local_name!("textarea")
            | local_name!("title")
            | local_name!("xmp")
            | local_name!("iframe")
            | local_name!("noembed")
            | local_name!("noframes")
            | local_name!("noscript")
            | local_name!("plaintext")
    )
}

struct DepthFilter {
    builder: TreeBuilder<NodeId, DepthSink>,
    max_depth: usize,
    /// Start tags dropped per name, so their end tags are dropped too.
    dropped: HashMap<LocalName, usize>,
    cut: bool,
}

impl TokenSink for DepthFilter {
    type Handle = NodeId;

    fn process_token(&mut self, token: Token, line_number: u64) -> TokenSinkResult<NodeId> {
        if let Token::TagToken(tag) = &token {
            match tag.kind {
                TagKind::StartTag
                    if !is_void(&tag.name)
                        && !is_raw_text(&tag.name)
                        && self.builder.sink.depth(self.max_depth) >= self.max_depth =>
                {
                    *self.dropped.entry(tag.name.clone()).or_default() += 1;
                    self.cut = true;
                    return TokenSinkResult::Continue;
                }
                TagKind::EndTag => {
                    if let Some(n) = self.dropped.get_mut(&tag.name).filter(|n| **n > 0) {
                        *n -= 1;
                        return TokenSinkResult::Continue;
                    }
                }
                _ => {}
            }
        }
        self.builder.process_token(token, line_number)
    }

    fn end(&mut self) {
        self.builder.end()
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.builder
            .adjusted_current_node_present_but_not_in_html_namespace()
    }
}

/// scraper's tree sink, plus a note of where the tree builder last inserted: its depth stands
/// in for the height of the stack of open elements.
struct DepthSink {
    html: Html,
    current: Option<NodeId>,
}

impl DepthSink {
    /// Depth of the current insertion point, counted up to `cap` (so the cost stays bounded).
    fn depth(&self, cap: usize) -> usize {
        match self.current.and_then(|id| self.html.tree.get(id)) {
            Some(node) => node.ancestors().take(cap).count() + 1,
            None => 0,
        }
    }

    fn parent_of(&self, id: NodeId) -> Option<NodeId> {
        self.html
            .tree
            .get(id)
            .and_then(|n| n.parent())
            .map(|p| p.id())
    }
}

impl TreeSink for DepthSink {
    type Handle = NodeId;
    type Output = Html;

    fn finish(self) -> Html {
        self.html
    }
    fn parse_error(&mut self, msg: Cow<'static, str>) {
        self.html.parse_error(msg)
    }
    fn get_document(&mut self) -> NodeId {
        self.html.get_document()
    }
    fn elem_name<'a>(&'a self, target: &'a NodeId) -> ExpandedName<'a> {
        self.html.elem_name(target)
    }
    fn create_element(
        &mut self,
        name: QualName,
        attrs: Vec<Attribute>,
        flags: ElementFlags,
    ) -> NodeId {
        self.html.create_element(name, attrs, flags)
    }
    fn create_comment(&mut self, text: StrTendril) -> NodeId {
        self.html.create_comment(text)
    }
    fn create_pi(&mut self, target: StrTendril, data: StrTendril) -> NodeId {
        self.html.create_pi(target, data)
    }
    fn append(&mut self, parent: &NodeId, child: NodeOrText<NodeId>) {
        self.current = Some(*parent);
        self.html.append(parent, child)
    }
    fn append_based_on_parent_node(
        &mut self,
        element: &NodeId,
        prev_element: &NodeId,
        child: NodeOrText<NodeId>,
    ) {
        self.current = Some(self.parent_of(*element).unwrap_or(*prev_element));
        self.html
            .append_based_on_parent_node(element, prev_element, child)
    }
    fn append_doctype_to_document(
        &mut self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.html
            .append_doctype_to_document(name, public_id, system_id)
    }
    fn mark_script_already_started(&mut self, node: &NodeId) {
        self.html.mark_script_already_started(node)
    }
    fn pop(&mut self, node: &NodeId) {
        self.current = self.parent_of(*node);
        self.html.pop(node)
    }
    fn get_template_contents(&mut self, target: &NodeId) -> NodeId {
        self.html.get_template_contents(target)
    }
    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        self.html.same_node(x, y)
    }
    fn set_quirks_mode(&mut self, mode: QuirksMode) {
        self.html.set_quirks_mode(mode)
    }
    fn append_before_sibling(&mut self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        self.current = self.parent_of(*sibling);
        self.html.append_before_sibling(sibling, new_node)
    }
    fn add_attrs_if_missing(&mut self, target: &NodeId, attrs: Vec<Attribute>) {
        self.html.add_attrs_if_missing(target, attrs)
    }
    fn associate_with_form(
        &mut self,
        target: &NodeId,
        form: &NodeId,
        nodes: (&NodeId, Option<&NodeId>),
    ) {
        self.html.associate_with_form(target, form, nodes)
    }
    fn remove_from_parent(&mut self, target: &NodeId) {
        self.html.remove_from_parent(target)
    }
    fn reparent_children(&mut self, node: &NodeId, new_parent: &NodeId) {
        self.html.reparent_children(node, new_parent)
    }
    fn is_mathml_annotation_xml_integration_point(&self, handle: &NodeId) -> bool {
        self.html.is_mathml_annotation_xml_integration_point(handle)
    }
    fn set_current_line(&mut self, line_number: u64) {
        self.html.set_current_line(line_number)
    }
    fn complete_script(&mut self, node: &NodeId) -> NextParserState {
        self.html.complete_script(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_documents_parse_as_scraper_would() {
        let src = "<!doctype html><html lang=en><head><title>T</title></head>\
                   <body><p>one<p>two<ul><li>a<li>b</ul><table><tr><td>c</table>";
        let (ours, cut) = parse_bounded(src, 256);
        assert!(!cut);
        assert_eq!(ours.html(), Html::parse_document(src).html());
    }

    #[test]
    fn nesting_beyond_the_cap_is_flattened_but_text_kept() {
        let src = format!("{}deep{}", "<div>".repeat(5000), "</div>".repeat(5000));
        let (doc, cut) = parse_bounded(&src, 64);
        assert!(cut);
        let max_depth = doc
            .tree
            .nodes()
            .map(|n| n.ancestors().count())
            .max()
            .unwrap();
        assert!(max_depth <= 70, "depth {max_depth}");
        assert!(doc.root_element().text().any(|t| t == "deep"));
        // A script at the cap is still a script, not text.
        let src = format!("{}<script>var x = 1;</script>", "<div>".repeat(100));
        let (doc, cut) = parse_bounded(&src, 10);
        assert!(cut);
        let sel = scraper::Selector::parse("script").unwrap();
        let scripts: Vec<String> = doc.select(&sel).map(|s| s.text().collect()).collect();
        assert_eq!(scripts, ["var x = 1;"]);
    }
}
