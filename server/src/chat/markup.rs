//! Message markup: the safe Markdown subset of a message body, rendered to
//! HTML once, on the server, when the message is stored or edited. Every
//! viewer (and the server-rendered page) gets the same sanitized HTML; the
//! browser carries no parser.
//!
//! Invariants:
//! - Only Markdown syntax becomes markup: bold, italic, strikethrough,
//!   inline code, code blocks, quotes, lists, links and bare URLs. Raw HTML
//!   typed by a user is shown as text (`<b>x</b>` reads `<b>x</b>`).
//! - The result always passes `ammonia` with an allowlist of exactly those
//!   tags, so even a parser bug cannot put anything else in the DOM. Links
//!   are `http`, `https` or `mailto` only, open in a new tab and carry
//!   `rel="noopener noreferrer"`; anything else loses its link.
//! - Nesting deeper than `MAX_NESTING` is flattened, so no body, however
//!   built, makes rendering or sanitizing recurse deeply.
//! - `@name` becomes a mention only for a user who exists (the caller's
//!   `lookup`), outside code and links, and is rendered as
//!   `<span class="mention">`, the one class the sanitizer lets through.

use app::model::{DisplayName, DISPLAY_NAME_MAX_CHARS};
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Quotes and lists nested deeper than this render flat.
const MAX_NESTING: usize = 8;

/// A body rendered: its HTML and whom it mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// Empty when the body is one plain paragraph, which viewers show as
    /// text (most messages: their frames stay small).
    pub html: String,
    /// Each mentioned user once, in order of first mention.
    pub mentions: Vec<DisplayName>,
}

/// A renderer: `render` or `render_inline`.
pub type Renderer = fn(&str, &dyn Fn(&str) -> Option<DisplayName>) -> Rendered;

/// Renders a message body (already validated as a `MessageBody`) to safe
/// HTML. `lookup` answers whether a name (ignoring case) is a user's, and
/// how that user spells it.
pub fn render(body: &str, lookup: &dyn Fn(&str) -> Option<DisplayName>) -> Rendered {
    if surely_plain(body) {
        return Rendered::default();
    }
    render_parsed(body, lookup)
}

/// Whether `body` is sure to render as one plain paragraph that links and
/// mentions nothing, so it can skip the parser (which reserves some 16 KB
/// per call): a sentence that starts with a letter and holds no line
/// break and no ASCII character that Markdown, a URL or a mention could
/// start with. Most chat messages are such sentences.
fn surely_plain(body: &str) -> bool {
    const PLAIN_PUNCTUATION: &str = " .,;?!'\"()%$=+-/";
    body.starts_with(|c: char| c.is_ascii_alphabetic())
        && body.bytes().all(|b| {
            !b.is_ascii() || b.is_ascii_alphanumeric() || PLAIN_PUNCTUATION.contains(b as char)
        })
}

/// Renders one line (a channel topic) to inline HTML only: emphasis,
/// code, links and mentions; block markup (quotes, lists, paragraphs)
/// keeps its text and loses its tags. Empty when plain text.
pub fn render_inline(text: &str, lookup: &dyn Fn(&str) -> Option<DisplayName>) -> Rendered {
    let (html, mentions) = markdown_html(text, lookup);
    let clean = inline_sanitizer().clean(&html).to_string();
    let clean = clean.trim();
    let html = if clean.contains('<') {
        clean.to_owned()
    } else {
        String::new()
    };
    Rendered { html, mentions }
}

/// `render` through the parser, for any body.
fn render_parsed(body: &str, lookup: &dyn Fn(&str) -> Option<DisplayName>) -> Rendered {
    let (html, mentions) = markdown_html(body, lookup);
    // One paragraph of text, with no tag inside, is what most messages are.
    // Sanitizing only ever removes tags, so it would stay tag-free and be
    // shown as text: skip the sanitizer, which costs more than the parse.
    let html = if one_plain_paragraph(&html) {
        String::new()
    } else {
        sanitized(&html)
    };
    Rendered { html, mentions }
}

/// The body parsed as chat Markdown: raw HTML and whom it mentions.
fn markdown_html(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<DisplayName>,
) -> (String, Vec<DisplayName>) {
    let mut chat = Chat::new(body, lookup);
    let mut html = String::with_capacity(body.len() + body.len() / 2 + 16);
    pulldown_cmark::html::push_html(&mut html, &mut chat);
    (html, chat.mentions)
}

/// `html` through the allowlist; empty when what is left is plain text.
fn sanitized(html: &str) -> String {
    let clean = sanitizer().clean(html).to_string();
    if one_plain_paragraph(&clean) {
        String::new()
    } else {
        clean
    }
}

/// Whether `html` is a lone `<p>` holding only text (or is all text).
fn one_plain_paragraph(html: &str) -> bool {
    let inner = html
        .strip_prefix("<p>")
        .and_then(|rest| rest.strip_suffix("</p>\n"))
        .unwrap_or(html);
    !inner.contains('<')
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(allowlist)
}

/// The chat subset's tags and attributes.
fn allowlist() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::empty();
    builder
        .add_tags([
            "p",
            "br",
            "strong",
            "em",
            "del",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
            "a",
            "span",
        ])
        .add_allowed_classes("span", ["mention"])
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("ol", ["start"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank");
    builder
}

fn inline_sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut builder = allowlist();
        builder.rm_tags(["p", "br", "pre", "blockquote", "ul", "ol", "li"]);
        builder.rm_tag_attributes("ol", ["start"]);
        builder
    })
}

/// The parser's events, adapted to chat: raw HTML as text, headings as
/// paragraphs, images as links, line breaks kept, bare URLs linked, and
/// nesting bounded.
struct Chat<'a, 'l> {
    parser: Parser<'a>,
    lookup: &'l dyn Fn(&str) -> Option<DisplayName>,
    mentions: Vec<DisplayName>,
    /// Events produced ahead (a linkified text becomes several).
    queued: std::collections::VecDeque<Event<'a>>,
    /// Open quotes and lists, and how many of them were flattened.
    depth: usize,
    flattened: Vec<bool>,
    /// Inside a link or code block nothing more is linked.
    in_link: usize,
    in_code_block: bool,
}

impl<'a, 'l> Chat<'a, 'l> {
    fn new(body: &'a str, lookup: &'l dyn Fn(&str) -> Option<DisplayName>) -> Self {
        Self {
            // `surely_plain` relies on these options (no math, tables or
            // smart punctuation): revisit it when adding one.
            parser: Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH),
            lookup,
            mentions: Vec::new(),
            queued: Default::default(),
            depth: 0,
            flattened: Vec::new(),
            in_link: 0,
            in_code_block: false,
        }
    }

    /// Splits a text into text, links for the URLs it contains, and mentions.
    fn linkify(&mut self, text: CowStr<'a>) -> Event<'a> {
        // URLs need a scheme (the default), which `surely_plain` relies on.
        let finder = linkify::LinkFinder::new();
        let spans: Vec<_> = finder.spans(&text).collect();
        if spans.iter().all(|s| s.kind().is_none()) && !text.contains('@') {
            return Event::Text(text);
        }
        for span in spans {
            let part = span.as_str().to_owned();
            match span.kind() {
                Some(linkify::LinkKind::Url) => {
                    let tag = Tag::Link {
                        link_type: LinkType::Autolink,
                        dest_url: part.clone().into(),
                        title: "".into(),
                        id: "".into(),
                    };
                    self.queued.push_back(Event::Start(tag));
                    self.queued.push_back(Event::Text(part.into()));
                    self.queued.push_back(Event::End(TagEnd::Link));
                }
                Some(linkify::LinkKind::Email) => {
                    let tag = Tag::Link {
                        link_type: LinkType::Email,
                        dest_url: format!("mailto:{part}").into(),
                        title: "".into(),
                        id: "".into(),
                    };
                    self.queued.push_back(Event::Start(tag));
                    self.queued.push_back(Event::Text(part.into()));
                    self.queued.push_back(Event::End(TagEnd::Link));
                }
                _ => self.mention(&part),
            }
        }
        self.queued.pop_front().unwrap_or(Event::Text("".into()))
    }

    /// Queues `text` with each `@name` of an existing user as a mention.
    /// The longest name that fits wins, and it must end at a word's end.
    fn mention(&mut self, text: &str) {
        let mut plain_from = 0;
        let mut at = 0;
        while let Some(found) = text[at..].find('@') {
            let start = at + found;
            at = start + 1;
            let after_word = text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric());
            if after_word {
                continue; // an e-mail-like `bob@host`, not a mention
            }
            let rest = &text[start + 1..];
            let ends: Vec<usize> = rest
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .take(DISPLAY_NAME_MAX_CHARS)
                .collect();
            let hit = ends.iter().rev().find_map(|&end| {
                let boundary = rest[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || ",.;:!?)]}'\"".contains(c));
                if !boundary {
                    return None;
                }
                (self.lookup)(&rest[..end]).map(|name| (end, name))
            });
            let Some((end, name)) = hit else { continue };
            if plain_from < start {
                self.queued
                    .push_back(Event::Text(text[plain_from..start].to_owned().into()));
            }
            self.queued
                .push_back(Event::InlineHtml(r#"<span class="mention">"#.into()));
            self.queued
                .push_back(Event::Text(format!("@{}", &rest[..end]).into()));
            self.queued.push_back(Event::InlineHtml("</span>".into()));
            if !self.mentions.contains(&name) {
                self.mentions.push(name);
            }
            plain_from = start + 1 + end;
            at = plain_from;
        }
        if plain_from < text.len() {
            self.queued
                .push_back(Event::Text(text[plain_from..].to_owned().into()));
        }
    }

    /// Opens a quote or list, or flattens it when nested too deep.
    fn open(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        self.depth += 1;
        let flat = self.depth > MAX_NESTING;
        self.flattened.push(flat);
        (!flat).then_some(event)
    }

    fn close(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        self.depth = self.depth.saturating_sub(1);
        let flat = self.flattened.pop().unwrap_or(false);
        (!flat).then_some(event)
    }

    /// Whether list items are being dropped with their flattened list.
    fn in_flat_list(&self) -> bool {
        self.flattened.last().copied().unwrap_or(false)
    }

    fn adapt(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            Event::Start(Tag::Heading { .. }) => Some(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::Heading(_)) => Some(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                self.in_link += 1;
                Some(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }))
            }
            Event::End(TagEnd::Image) => {
                self.in_link = self.in_link.saturating_sub(1);
                Some(Event::End(TagEnd::Link))
            }
            Event::Start(tag @ Tag::Link { .. }) => {
                self.in_link += 1;
                Some(Event::Start(tag))
            }
            Event::End(TagEnd::Link) => {
                self.in_link = self.in_link.saturating_sub(1);
                Some(Event::End(TagEnd::Link))
            }
            Event::Start(tag @ Tag::CodeBlock(_)) => {
                self.in_code_block = true;
                Some(Event::Start(tag))
            }
            Event::End(TagEnd::CodeBlock) => {
                self.in_code_block = false;
                Some(Event::End(TagEnd::CodeBlock))
            }
            e @ Event::Start(Tag::BlockQuote(_) | Tag::List(_)) => self.open(e),
            e @ Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_)) => self.close(e),
            e @ Event::Start(Tag::Item) | e @ Event::End(TagEnd::Item) => {
                if self.in_flat_list() {
                    // A flattened list's items become line breaks.
                    matches!(e, Event::End(_)).then_some(Event::HardBreak)
                } else {
                    Some(e)
                }
            }
            // In chat, a newline is a line break.
            Event::SoftBreak => Some(Event::HardBreak),
            Event::Text(text) if self.in_link == 0 && !self.in_code_block => {
                Some(self.linkify(text))
            }
            other => Some(other),
        }
    }
}

impl<'a> Iterator for Chat<'a, '_> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        if let Some(event) = self.queued.pop_front() {
            return Some(event);
        }
        loop {
            let event = self.parser.next()?;
            if let Some(adapted) = self.adapt(event) {
                return Some(adapted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        markdown_html, render as render_with, render_inline, render_parsed, sanitized,
        surely_plain, Rendered,
    };
    use app::model::DisplayName;

    /// Users "alice" and "Bob Smith" exist.
    fn lookup(name: &str) -> Option<DisplayName> {
        ["alice", "Bob Smith"]
            .into_iter()
            .find(|n| n.to_lowercase() == name.to_lowercase())
            .map(|n| DisplayName::parse(n).unwrap())
    }

    fn render(body: &str) -> String {
        render_with(body, &lookup).html
    }

    fn mentions(body: &str) -> Vec<String> {
        let Rendered { mentions, .. } = render_with(body, &lookup);
        mentions.iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn mentions_of_existing_users_are_marked_and_listed() {
        assert_eq!(
            render("hi @alice!"),
            r#"<p>hi <span class="mention">@alice</span>!</p>"#.to_owned() + "\n"
        );
        assert_eq!(
            mentions("hi @ALICE and @bob smith, and @alice"),
            ["alice", "Bob Smith"]
        );
        assert_eq!(mentions("@nobody here"), Vec::<String>::new());
        assert_eq!(render("@nobody here"), "", "no such user: plain text");
        assert_eq!(mentions("mail alice@alice.com"), Vec::<String>::new());
        assert_eq!(
            mentions("@alicecooper"),
            Vec::<String>::new(),
            "a name ends at a word's end"
        );
        assert_eq!(mentions("`@alice` in code"), Vec::<String>::new());
        assert_eq!(mentions("**@alice**"), ["alice"]);
    }

    #[test]
    fn skipping_the_sanitizer_for_plain_text_changes_nothing() {
        // What `render` answered before plain text skipped the sanitizer.
        let sanitized_always = |body: &str| sanitized(&markdown_html(body, &lookup).0);
        for body in [
            "",
            "lg 3 45 1234567",
            "just words & <3",
            "a < b > c \"q\" 'a' &amp; &#60;",
            "<b>typed</b> <script>x</script>",
            "hi @alice!",
            "@nobody here",
            "line one\nline two",
            "para one\n\npara two",
            "**bold** and `code`",
            "see https://example.com/x?y=1&z=2",
            "javascript:alert(1)",
            "[x](javascript:alert(1))",
            "> quoted",
            "1. one\n2. two",
            "    indented code",
            "ｇｅｎｅｒａｌ ünïcödé 🎉",
        ] {
            assert_eq!(render(body), sanitized_always(body), "{body:?}");
        }
    }

    #[test]
    fn plain_sentences_skip_the_parser_and_nothing_else_does() {
        for body in [
            "hello there, how are you?",
            "it's 5 o'clock (UTC) - 50% off! a/b = c+d \"quoted\" ünïcödé 🎉",
            // Only a URL with a scheme is linked.
            "see example.com/x",
        ] {
            assert!(surely_plain(body), "{body:?}");
            assert_eq!(render_parsed(body, &lookup), Rendered::default());
        }
        for body in [
            "3 cats",
            "- item",
            "a\nb",
            "hi @alice",
            "**bold**",
            "a_b",
            "x`y",
            "a <b> c",
            "a & b",
            "see https://x.y",
            "C# and F#",
            "tab\there",
        ] {
            assert!(!surely_plain(body), "{body:?} must go through the parser");
        }
    }

    proptest::proptest! {
        /// The shortcut answers exactly what the parser would have.
        #[test]
        fn the_plain_shortcut_changes_nothing(
            body in r##"[a-zA-Z][a-zA-Z0-9 .,;?!'"()%$=+/\-\u{a0}\u{2028}\u{3000}\u{301}ｇé😀＠＜＃]{0,80}"##
        ) {
            proptest::prop_assume!(surely_plain(&body));
            proptest::prop_assert_eq!(render_parsed(&body, &lookup), Rendered::default());
        }
    }

    #[test]
    fn a_mention_cannot_smuggle_markup() {
        let html = render(r#"@alice <span class="x" onclick="y">"#);
        assert_eq!(html.matches("<span").count(), 1, "{html}");
        assert!(html.contains("&lt;span"), "the typed tag is text: {html}");
    }

    #[test]
    fn the_subset_becomes_markup() {
        assert_eq!(render("**bold**"), "<p><strong>bold</strong></p>\n");
        assert_eq!(render("*it* _it_"), "<p><em>it</em> <em>it</em></p>\n");
        assert_eq!(render("just words & <3"), "", "plain text needs no HTML");
        assert_eq!(render("~~gone~~"), "<p><del>gone</del></p>\n");
        assert_eq!(render("`x < y`"), "<p><code>x &lt; y</code></p>\n");
        assert_eq!(
            render("```\nfn main() {}\n```"),
            "<pre><code>fn main() {}\n</code></pre>\n"
        );
        assert_eq!(
            render("> quoted"),
            "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        );
        assert_eq!(render("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n");
        assert_eq!(render("3. c"), "<ol start=\"3\">\n<li>c</li>\n</ol>\n");
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        assert_eq!(render("<b>x</b>"), "", "one plain paragraph: shown as text");
        assert_eq!(
            render("**<b>x</b>**"),
            "<p><strong>&lt;b&gt;x&lt;/b&gt;</strong></p>\n"
        );
        assert_eq!(
            render("<script>alert(1)</script>"),
            "",
            "an HTML block: shown as text"
        );
        let html = render("<script>alert(1)</script>\n\n*x*");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        let html = render("<img src=x onerror=alert(1)>");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn links_open_safely_in_a_new_tab() {
        let html = render("see https://example.com/a?b=1 now");
        assert!(
            html.contains(r#"href="https://example.com/a?b=1""#),
            "{html}"
        );
        assert!(html.contains(r#"target="_blank""#), "{html}");
        assert!(html.contains(r#"rel="noopener noreferrer""#), "{html}");
        assert!(
            html.contains(">https://example.com/a?b=1</a> now"),
            "{html}"
        );
        let html = render("[docs](https://docs.rs)");
        assert!(html.contains(r#"href="https://docs.rs""#), "{html}");
        assert!(html.contains(r#"rel="noopener noreferrer""#), "{html}");
    }

    #[test]
    fn unsafe_urls_never_become_links() {
        for body in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox)",
            "[x](/relative)",
            "<javascript:alert(1)>",
            "![x](javascript:alert(1))",
        ] {
            let html = render(body);
            assert!(!html.contains("href"), "{body} -> {html}");
            assert!(!html.contains("<script"), "{body} -> {html}");
        }
    }

    #[test]
    fn code_is_never_linked_or_formatted() {
        let html = render("`https://example.com **x**`");
        assert!(!html.contains("<a"), "{html}");
        assert!(!html.contains("<strong"), "{html}");
    }

    #[test]
    fn newlines_are_line_breaks_and_headings_plain_paragraphs() {
        assert_eq!(render("a\nb"), "<p>a<br>\nb</p>\n");
        assert_eq!(render("# big"), "", "a heading is a plain paragraph");
    }

    proptest::proptest! {
        /// Any body renders, and the result never carries script, event
        /// handlers or a link that is not http(s) or mailto.
        #[test]
        fn any_body_renders_to_safe_html(body in "(\\PC|[<>\\[\\]()*_`~#>@:/ \n-]){1,400}") {
            let html = render(&body);
            // Only real tags matter: text is escaped (`&lt;`).
            for tag in html.split('<').skip(1) {
                let tag = tag.split('>').next().unwrap_or_default().to_lowercase();
                proptest::prop_assert!(!tag.starts_with("script"), "{}", html);
                proptest::prop_assert!(!tag.contains(" on"), "{}", html);
                if let Some(href) = tag.split("href=\"").nth(1) {
                    proptest::prop_assert!(
                        href.starts_with("http://")
                            || href.starts_with("https://")
                            || href.starts_with("mailto:"),
                        "{}", html
                    );
                }
            }
        }
    }

    #[test]
    fn a_topic_renders_inline_only() {
        let topic = |t: &str| render_inline(t, &lookup).html;
        assert_eq!(topic("plain words"), "");
        assert_eq!(
            topic("Ship **Friday**, ask @alice"),
            r#"Ship <strong>Friday</strong>, ask <span class="mention">@alice</span>"#
        );
        assert_eq!(topic("> quoted"), "");
        assert_eq!(topic("- item with `code`"), "item with <code>code</code>");
        assert_eq!(topic("<img src=x onerror=alert(1)>"), "");
    }

    #[test]
    fn deep_nesting_is_flattened() {
        let body = ">".repeat(3000) + " deep";
        let html = render(&body);
        assert_eq!(html.matches("<blockquote>").count(), super::MAX_NESTING);
        assert!(html.contains("deep"));
        let list: String = (0..2000)
            .map(|i| format!("{}- x\n", "  ".repeat(i)))
            .collect();
        let html = render(&list);
        assert!(html.matches("<ul>").count() <= super::MAX_NESTING);
    }
}
