//! Which new names may be taken, and when two names are the same name, by
//! Unicode's own security mechanisms (UTS #39) rather than a hand-kept
//! list. One rule for display names and channel names alike:
//!
//! - Two names are the same name when any of their `skeletons` match: the
//!   UTS #39 confusable skeletons of the name as written and of its
//!   case-folded NFKC form (a skeleton drops every default-ignorable
//!   character: joiners, variation selectors, tag characters, fillers),
//!   with each run of blanks read as one space and none at either end.
//!   `alice`, `ALICE`, `аlice` (Cyrillic а), `alice` + U+200D, `a1ice`,
//!   `aIice`… are all one name.
//! - A new name must have something to see (a skeleton that is not empty).
//! - A new name may not mix scripts whose letters look alike: it must meet
//!   UTS #39's "moderately restrictive" level (one script; or Latin with
//!   Han and Japanese or Korean; or Latin with one other recommended script
//!   except Cyrillic and Greek). Common characters (digits, punctuation,
//!   spaces, emoji) go with any script.
//!
//! Invariant: these rules judge only names being taken now (`admit`);
//! names taken before them stay valid, so an old database still loads.

use app::model::{name_key, InputError};
use unicode_script::Script;
use unicode_security::mixed_script::AugmentedScriptSet;

/// Characters that show as blank without being Unicode whitespace or
/// default-ignorable (which the skeleton drops already).
fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{2800}' // BRAILLE PATTERN BLANK
}

/// The forms under which two names are the same name: two names are one
/// when any of their skeletons match. The skeleton of the name as written
/// catches `I` for `l`, which case folding would hide; that of the
/// case-folded name catches `ALICE` for `alice`. Not for display: a
/// skeleton mixes scripts by design.
pub fn skeletons(name: &str) -> Vec<String> {
    let folded = name_key(name);
    let mut forms = vec![skeleton_of(&folded)];
    if folded != name {
        let written = skeleton_of(name);
        if written != forms[0] {
            forms.push(written);
        }
    }
    forms
}

/// The UTS #39 skeleton of `text` (default-ignorable characters dropped),
/// with each run of blanks as one space and none at either end.
fn skeleton_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for c in unicode_security::skeleton(text) {
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
/// names which, for the refusal). Uniqueness by `skeleton` is the
/// caller's to check against the names already taken.
pub fn admit(name: &str, field: &'static str) -> Result<(), InputError> {
    if skeletons(name).iter().all(String::is_empty) {
        return Err(InputError::NothingVisible { field });
    }
    if let Some(scripts) = confusable_scripts(name) {
        return Err(InputError::MixedScripts { field, scripts });
    }
    Ok(())
}

/// The scripts a name mixes, when it is below UTS #39's moderately
/// restrictive level (`RestrictionLevelDetection`, without its identifier
/// check: names have spaces, punctuation and emoji).
fn confusable_scripts(name: &str) -> Option<String> {
    let mut all = AugmentedScriptSet::default();
    let mut beside_latin = AugmentedScriptSet::default();
    for c in name.chars() {
        let scripts = AugmentedScriptSet::for_char(c);
        all.intersect_with(scripts);
        if !scripts.base.contains_script(Script::Latin) {
            beside_latin.intersect_with(scripts);
        }
    }
    if !all.is_empty() || beside_latin.hanb || beside_latin.jpan || beside_latin.kore {
        return None;
    }
    if beside_latin.base.len() == 1 {
        let other = beside_latin.base.iter().next()?;
        if other.is_recommended() && other != Script::Cyrillic && other != Script::Greek {
            return None;
        }
    }
    Some(scripts_of(name))
}

/// "Latin and Cyrillic": the scripts of a name's letters, for people.
fn scripts_of(name: &str) -> String {
    let mut seen: Vec<&'static str> = Vec::new();
    for c in name.chars() {
        let set = AugmentedScriptSet::for_char(c);
        if set.is_all() {
            continue;
        }
        for script in set.base.iter() {
            if !seen.contains(&script.full_name()) {
                seen.push(script.full_name());
            }
        }
    }
    match seen.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((only, _)) => (*only).to_owned(),
        None => "scripts".to_owned(),
    }
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
        ] {
            assert!(same(name, "alice"), "{what}: {name:?}");
            assert!(same("alice", name), "{what}, the other way: {name:?}");
        }
        assert!(!same("alicia", "alice"));
        assert!(!same("al ice", "alice"), "a visible space is a difference");
        assert!(same("al  ice", "al ice"), "but not its width");
        assert!(same("rnary", "mary"), "rn looks like m");
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
    fn names_mixing_look_alike_scripts_are_refused() {
        for (name, scripts) in [
            ("\u{0430}lice", "Cyrillic and Latin"),
            ("p\u{0430}ypal", "Latin and Cyrillic"),
            ("\u{03BF}pen", "Greek and Latin"),
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
            "dev-ops_2 🎉",
            "👨\u{200D}👩\u{200D}👧 family",
            "#42",
        ] {
            assert_eq!(admit(name, "display name"), Ok(()), "{name:?}");
        }
    }
}
