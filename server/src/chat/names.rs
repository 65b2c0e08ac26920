//! Which new names may be taken, and when two names are the same name, by
//! Unicode's own security mechanisms (UTS #39) rather than a hand-kept
//! list. One rule for display names and channel names alike:
//!
//! - Two names are the same name when any of their `skeletons` match: the
//!   UTS #39 confusable skeleton of the case-folded NFKC name, and the
//!   case-folded skeleton of the name as written (so `I` for `l` and
//!   Greek `ΚΑΤΕ` for `kate` are caught, which folding first would hide).
//!   A skeleton drops default-ignorable and other format characters
//!   (joiners, variation selectors, tag characters, fillers, U+0600), a
//!   dot above `i` or `j` (which shows no dot), and reads each run of
//!   blanks (U+2800 and U+1D159 too) as one space, none at either end.
//!   `alice`, `ALICE`, `аlice` (Cyrillic а), `alice` + U+200D, `a1ice`,
//!   `aIice`, `ali̇ce`… are all one name.
//! - A new name must have something to see: a letter, number, punctuation
//!   or symbol that is not blank (combining marks alone do not count).
//! - A new name may not contain characters Unicode does not assign (or
//!   leaves to private use): nobody can tell what they look like.
//! - A new name may not mix scripts in a way that spoofs: when a script
//!   other than Latin appears in a name beside another script and *every*
//!   character of it is a potential mixed-script confusable (UTS #39's
//!   data, as rustc's `mixed_script_confusables` lint reads it), the name
//!   is refused: `аlice` (Cyrillic а) is, `λ-calculus` and `Δ team` are
//!   not. Common characters (digits, punctuation, spaces, emoji) go with
//!   any script.
//!
//! Invariant: these rules judge only names being taken now (`admit`);
//! names taken before them stay valid, so an old database still loads.

use app::model::{name_key, InputError};
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};
use unicode_security::mixed_script::{
    is_potential_mixed_script_confusable_char, AugmentedScriptSet,
};

/// Symbols that draw nothing, though they are neither Unicode whitespace
/// nor default-ignorable.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{2800}' | '\u{1D159}')
}

/// The forms under which two names are the same name: two names are one
/// when any of their skeletons match. Not for display: a skeleton mixes
/// scripts by design.
pub fn skeletons(name: &str) -> Vec<String> {
    let mut forms = vec![skeleton_of(&name_key(name))];
    let written = name_key(&skeleton_of(name));
    if written != forms[0] {
        forms.push(written);
    }
    forms
}

/// The UTS #39 skeleton of `text` (default-ignorable characters dropped),
/// without format characters or a dot above `i`/`j`, with each run of
/// blanks as one space and none at either end.
fn skeleton_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for c in unicode_security::skeleton(text) {
        if c.general_category() == GeneralCategory::Format {
            continue;
        }
        if c == '\u{0307}' && (out.ends_with('i') || out.ends_with('j')) {
            continue;
        }
        if is_blank(c) {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push(' ');
            blank = false;
        }
        out.push(c);
    }
    out
}

/// Whether a name may be taken now by a new user or channel (`field`
/// names which, for the refusal). Uniqueness by `skeletons` is the
/// caller's to check against the names already taken.
pub fn admit(name: &str, field: &'static str) -> Result<(), InputError> {
    if name.chars().any(|c| c.script() == Script::Unknown) {
        return Err(InputError::Unassigned { field });
    }
    if !name.chars().any(is_visible) {
        return Err(InputError::NothingVisible { field });
    }
    if let Some(scripts) = spoofing_scripts(name) {
        return Err(InputError::MixedScripts { field, scripts });
    }
    Ok(())
}

/// A character that shows something by itself.
fn is_visible(c: char) -> bool {
    let shows = matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Punctuation
            | GeneralCategoryGroup::Symbol
    );
    shows && !is_blank(c) && !unicode_security::skeleton(&c.to_string()).eq("".chars())
}

/// "Cyrillic and Latin": for a name that mixes scripts, a script other
/// than Latin all of whose characters in the name could pass for another
/// script's, with the scripts it is mixed with.
fn spoofing_scripts(name: &str) -> Option<String> {
    if !AugmentedScriptSet::for_str(name).is_empty() {
        return None; // one script (Han with kana counts as one)
    }
    let mut scripts: Vec<Script> = Vec::new();
    for c in name.chars() {
        let script = c.script();
        if !matches!(script, Script::Common | Script::Inherited) && !scripts.contains(&script) {
            scripts.push(script);
        }
    }
    let spoofs = scripts.iter().any(|&script| {
        script != Script::Latin
            && name
                .chars()
                .filter(|c| c.script() == script)
                .all(is_potential_mixed_script_confusable_char)
    });
    spoofs.then(|| {
        let names: Vec<&str> = scripts.iter().map(|s| s.full_name()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        let theirs = skeletons(b);
        skeletons(a).iter().any(|s| theirs.contains(s))
    }

    /// Each of these reads as "alice" on screen, and is the same name.
    #[test]
    fn look_alikes_of_a_name_are_the_same_name() {
        for (what, name) in [
            ("upper case", "ALICE"),
            ("fullwidth", "ａｌｉｃｅ"),
            ("zero-width joiner", "alice\u{200D}"),
            ("zero-width joiner inside", "al\u{200D}ice"),
            ("variation selector", "alice\u{FE0F}"),
            ("tag characters", "alice\u{E0061}\u{E007F}"),
            ("braille blank", "alice\u{2800}"),
            ("hangul filler", "alice\u{3164}"),
            ("trailing no-break space", "alice\u{00A0}"),
            ("Cyrillic а", "\u{0430}lice"),
            ("digit one for l", "a1ice"),
            ("capital I for l", "aIice"),
            ("soft hyphen", "ali\u{00AD}ce"),
            ("dot above i", "ali\u{0307}ce"),
            ("musical null notehead", "alice\u{1D159}"),
            ("Arabic number sign", "alice\u{0600}"),
        ] {
            assert!(same(name, "alice"), "{what}: {name:?}");
            assert!(same("alice", name), "{what}, the other way: {name:?}");
        }
        assert!(!same("alicia", "alice"));
        assert!(!same("al ice", "alice"), "a visible space is a difference");
        assert!(same("al  ice", "al ice"), "but not its width");
        assert!(same("rnary", "mary"), "rn looks like m");
        assert!(same("ΚΑΤΕ", "kate"), "Greek capitals that read as Latin");
        assert!(same("vi\u{0307}deo", "video"));
    }

    #[test]
    fn a_name_with_nothing_to_see_is_refused() {
        for name in [
            "\u{200D}",
            "\u{FE0F}\u{FE0F}",
            "\u{E0041}\u{E0042}",
            "\u{2800}",
            "\u{3164}",
            "\u{2800} \u{200D}",
            "\u{0301}",
            "\u{0301}\u{0301}\u{0301}",
            "\u{20E3}",
            "\u{1D159}",
            "\u{0600}",
        ] {
            assert_eq!(
                admit(name, "display name"),
                Err(InputError::NothingVisible {
                    field: "display name"
                }),
                "{name:?}"
            );
        }
    }

    #[test]
    fn characters_unicode_does_not_assign_are_refused() {
        for name in ["x\u{E000}", "x\u{0378}", "\u{F0000}"] {
            assert_eq!(
                admit(name, "display name"),
                Err(InputError::Unassigned {
                    field: "display name"
                }),
                "{name:?}"
            );
        }
    }

    #[test]
    fn names_mixing_look_alike_scripts_are_refused() {
        for (name, scripts) in [
            ("\u{0430}lice", "Cyrillic and Latin"),
            ("p\u{0430}ypal", "Latin and Cyrillic"),
            ("\u{03BF}pen", "Greek and Latin"),
            ("\u{0421}\u{0430}t", "Cyrillic and Latin"),
        ] {
            assert_eq!(
                admit(name, "channel name"),
                Err(InputError::MixedScripts {
                    field: "channel name",
                    scripts: scripts.to_owned()
                }),
                "{name:?}"
            );
        }
    }

    #[test]
    fn names_in_one_script_or_a_safe_mix_are_welcome() {
        for name in [
            "alice",
            "Zoë Ünal",
            "Дмитрий",
            "Ελένη",
            "山田 太郎",
            "田中 Tanaka",
            "すずき Suzuki",
            "김 Kim",
            "नमस्ते team",
            "λ-calculus",
            "Δ team",
            "Elena Ελένη",
            "Дмитрий D.",
            "dev-ops_2 🎉",
            "👨\u{200D}👩\u{200D}👧 family",
            "#42",
        ] {
            assert_eq!(admit(name, "display name"), Ok(()), "{name:?}");
        }
    }
}
