//! Search: a query parsed once into terms (words and quoted phrases) and
//! filters (`in:`, `from:`), and the test of one message's text against
//! it. Text is folded before comparing (compatibility decomposition,
//! combining marks dropped, lowercase, every run of other characters one
//! space), so "Café", "CAFE" and "cafe" are one word.
//!
//! Invariant: a message matches when every term occurs in its folded text
//! at the start of a word (the last word of a term may be the start of a
//! longer one: "deploy" finds "deployment"); marks point into the
//! original text, at the words that matched.

use crate::chat::channel::Held;
use app::model::SearchQuery;
use app::model::{DisplayName, Timestamp};
use memchr::memmem::Finder;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// A parsed query.
#[derive(Debug, Default)]
pub struct Query {
    /// Each term as its folded words.
    terms: Vec<Vec<String>>,
    /// Each term's words joined by one space, as folded text holds them,
    /// ready to be found (SIMD substring search, built once per query).
    phrases: Vec<Finder<'static>>,
    /// `in:#channel` (a channel's name) or `in:@name` (a person).
    pub scope: Option<Scope>,
    /// `from:@name`, folded.
    pub from: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum Scope {
    Channel(String),
    With(String),
}

impl Query {
    pub fn parse(query: &SearchQuery) -> Self {
        let mut parsed = Self::default();
        let mut rest = query.as_str();
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (token, quoted, after) = next_token(rest);
            rest = after;
            match (quoted, token.split_once(':')) {
                (false, Some(("in", target))) if !target.is_empty() => {
                    parsed.scope = Some(match target.strip_prefix('@') {
                        Some(name) => Scope::With(name.to_owned()),
                        None => Scope::Channel(target.trim_start_matches('#').to_owned()),
                    });
                }
                (false, Some(("from", name))) if !name.is_empty() => {
                    parsed.from = Some(name.trim_start_matches('@').to_owned());
                }
                _ => {
                    let words: Vec<String> = fold(token)
                        .split(' ')
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if !words.is_empty() {
                        parsed
                            .phrases
                            .push(Finder::new(&words.join(" ")).into_owned());
                        parsed.terms.push(words);
                    }
                }
            }
        }
        parsed
    }

    /// Whether the query has anything to look for.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.scope.is_none() && self.from.is_none()
    }

    /// Whether `folded` (text as `fold` makes it) holds every term at a
    /// word's start (what `Index::find` decides, for one text).
    #[cfg(test)]
    fn matches(&self, folded: &str) -> bool {
        (self.phrases.iter()).all(|phrase| at_word_start(folded, phrase))
    }

    /// The byte ranges of `text` that the terms matched, in order.
    pub fn marks(&self, text: &str) -> Vec<[u32; 2]> {
        let words = words_of(text);
        let mut marks = Vec::new();
        for term in &self.terms {
            for start in 0..words.len() {
                let Some(end) = term_at(&words, start, term) else {
                    continue;
                };
                marks.push([words[start].1 as u32, words[end].2 as u32]);
            }
        }
        marks.sort_unstable();
        marks.dedup();
        marks
    }
}

/// A channel's messages as search reads them: their folded texts in one
/// buffer, one line each, beside what picks and orders the hits. Made when
/// first searched and dropped at the channel's next change, so a search
/// scans contiguous text instead of visiting every message.
pub struct Index {
    text: String,
    entries: Vec<Entry>,
    /// The authors of the messages, each once (`Entry::author` points here).
    authors: Vec<DisplayName>,
}

/// One message in an `Index`: where its line ends, and what a hit needs
/// before the message itself is read.
struct Entry {
    end: usize,
    seq: u64,
    sent_at: Timestamp,
    author: usize,
}

/// A message the query matched: when it was sent, and its `seq`.
pub type Found = (Timestamp, u64);

impl Index {
    /// The index of `held`, in order (folded texts are cached per message,
    /// so this is copying).
    pub fn of<'h>(held: impl Iterator<Item = &'h Held>) -> Self {
        let mut index = Self {
            text: String::new(),
            entries: Vec::new(),
            authors: Vec::new(),
        };
        for h in held {
            index.text.push_str(h.searchable());
            index.text.push('\n');
            let author = &h.message.author;
            let known = index.authors.iter().position(|a| a == author);
            let author = known.unwrap_or_else(|| {
                index.authors.push(author.clone());
                index.authors.len() - 1
            });
            index.entries.push(Entry {
                end: index.text.len() - 1,
                seq: h.message.seq,
                sent_at: h.message.sent_at,
                author,
            });
        }
        index
    }

    /// The messages `query` matches (by `from` too, if given).
    pub fn find(&self, query: &Query, from: Option<&DisplayName>, found: &mut Vec<Found>) {
        let author = match from {
            Some(name) => match self.authors.iter().position(|a| a == name) {
                Some(at) => Some(at),
                None => return,
            },
            None => None,
        };
        let by = |e: &Entry| author.is_none_or(|a| e.author == a);
        let Some((first, rest)) = query.phrases.split_first() else {
            let all = self.entries.iter().filter(|e| by(e));
            found.extend(all.map(|e| (e.sent_at, e.seq)));
            return;
        };
        let bytes = self.text.as_bytes();
        // Matches come in order: the entry holding one is found by moving
        // forward, and a message matching twice is taken once.
        let (mut i, mut taken) = (0, None);
        for at in first.find_iter(bytes) {
            if at > 0 && !matches!(bytes[at - 1], b' ' | b'\n') {
                continue;
            }
            while self.entries.get(i).is_some_and(|e| e.end < at) {
                i += 1;
            }
            if i == self.entries.len() {
                break;
            }
            if taken == Some(i) {
                continue;
            }
            taken = Some(i);
            let entry = &self.entries[i];
            let start = if i == 0 {
                0
            } else {
                self.entries[i - 1].end + 1
            };
            let line = &self.text[start..entry.end];
            if by(entry) && rest.iter().all(|p| at_word_start(line, p)) {
                found.push((entry.sent_at, entry.seq));
            }
        }
    }
}

/// The next token of `rest` (which starts with one): a `"quoted phrase"`
/// or a run of non-space characters. Returns it, whether it was quoted,
/// and what follows.
fn next_token(rest: &str) -> (&str, bool, &str) {
    if let Some(inner) = rest.strip_prefix('"') {
        return match inner.find('"') {
            Some(end) => (&inner[..end], true, &inner[end + 1..]),
            None => (inner, true, ""),
        };
    }
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    (&rest[..end], false, &rest[end..])
}

/// Whether `phrase` occurs in `folded` from a word's start.
fn at_word_start(folded: &str, phrase: &Finder<'_>) -> bool {
    let bytes = folded.as_bytes();
    (phrase.find_iter(bytes)).any(|at| at == 0 || bytes[at - 1] == b' ')
}

/// Where `term` matches `words` starting at `start`: the last word's index.
fn term_at(words: &[(String, usize, usize)], start: usize, term: &[String]) -> Option<usize> {
    let last = term.len() - 1;
    for (i, want) in term.iter().enumerate() {
        let (word, _, _) = words.get(start + i)?;
        let ok = if i == last {
            word.starts_with(want.as_str())
        } else {
            word == want
        };
        if !ok {
            return None;
        }
    }
    Some(start + last)
}

/// `text` folded: decomposed, combining marks dropped, lowercase, and
/// every run of characters that are not letters or digits one space.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.nfkd() {
        if c.general_category_group() == GeneralCategoryGroup::Mark {
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The words of `text`, each folded, with its byte range in `text`.
fn words_of(text: &str) -> Vec<(String, usize, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    let is_word =
        |c: char| c.is_alphanumeric() || c.general_category_group() == GeneralCategoryGroup::Mark;
    for (at, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (start, is_word(c)) {
            (None, true) => start = Some(at),
            (Some(from), false) => {
                for word in fold(&text[from..at]).split(' ').filter(|w| !w.is_empty()) {
                    words.push((word.to_owned(), from, at));
                }
                start = None;
            }
            _ => {}
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> Query {
        Query::parse(&SearchQuery::parse(raw).unwrap())
    }

    fn finds(raw: &str, text: &str) -> bool {
        query(raw).matches(&fold(text))
    }

    #[test]
    fn case_and_accents_do_not_matter() {
        assert!(finds("cafe", "Meet at the Café"));
        assert!(finds("CAFÉ", "meet at the cafe"));
        assert!(
            finds("ﬁle", "the file is here"),
            "compatibility forms fold too"
        );
        assert!(!finds("cafe", "decaf"));
    }

    #[test]
    fn words_match_from_their_start_and_all_must_match() {
        assert!(finds("deploy", "the deployment went fine"));
        assert!(!finds("ploy", "the deployment went fine"));
        assert!(finds("deploy fine", "the deployment went fine"));
        assert!(!finds("deploy broke", "the deployment went fine"));
    }

    #[test]
    fn quoted_phrases_match_in_a_row() {
        assert!(finds("\"went fine\"", "the deployment went fine"));
        assert!(!finds("\"fine went\"", "the deployment went fine"));
        assert!(finds("\"went, fine\"", "it went... FINE"));
    }

    #[test]
    fn filters_are_read_and_left_out_of_the_terms() {
        let q = query("in:#general from:@Bob \"release notes\" v2");
        assert_eq!(q.scope, Some(Scope::Channel("general".into())));
        assert_eq!(q.from.as_deref(), Some("Bob"));
        assert_eq!(
            q.terms,
            vec![
                vec!["release".to_owned(), "notes".to_owned()],
                vec!["v2".to_owned()]
            ]
        );
        assert_eq!(query("in:@alice").scope, Some(Scope::With("alice".into())));
        assert!(!query("in:@alice").is_empty());
        assert!(query("!!!").is_empty());
    }

    #[test]
    fn marks_point_at_the_original_words() {
        let text = "Le Café is open; CAFÉS close";
        let marks = query("cafe").marks(text);
        let marked: Vec<&str> = marks
            .iter()
            .map(|[a, b]| &text[*a as usize..*b as usize])
            .collect();
        assert_eq!(marked, ["Café", "CAFÉS"]);
        let marks = query("\"is open\"").marks(text);
        assert_eq!(&text[marks[0][0] as usize..marks[0][1] as usize], "is open");
    }
}
