//! Users: who signs in. Disabled and unverified are two separate facts: a disabled user gets
//! nothing anywhere; an unverified user signs in and every token says `email_verified: false`.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub email_verified: bool,
    pub disabled: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// argon2id PHC string, or a Django hash until its owner next signs in; `None`: no password login.
    pub password_hash: Option<String>,
    /// The stable anonymous id (32 hex characters) that JWTs carry as `sub`.
    pub sub: String,
    pub created_at: i64,
}

/// A user about to be created; the fields are already validated.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub name: String,
    pub password: Option<Secret>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub email_verified: bool,
    /// Given when importing; generated otherwise.
    pub sub: Option<AnonymousId>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserInputError {
    #[error("username must be 1 to 150 characters of letters, digits and @.+-_ (got {0:?})")]
    Username(String),
    #[error("email must look like name@domain and be at most 254 characters (got {0:?})")]
    Email(String),
    #[error("anonymous id must be 32 lowercase hex characters (got {0:?})")]
    AnonymousId(String),
}

/// Django's `max_length` for usernames, in characters (code points, as Python's `len`), not bytes.
pub const USERNAME_MAX_CHARS: usize = 150;

/// A username as Django creates one: NFKC-normalised, then held to Django's rule
/// ([`is_django_username`]). Case-sensitive, as Django's: `José` and `josé` are two users.
/// `docs/design/unicode-logins.md` says why it normalises and where Rust and Python differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl TryFrom<&str> for Username {
    type Error = UserInputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        // Django's `UsernameField` refuses over-long input before normalising it (NFKC of a
        // huge string is wasted work), so 151 decomposed characters are refused even where
        // NFKC would compose them into fewer.
        if value.chars().nth(USERNAME_MAX_CHARS).is_none() {
            let normalized: String = value.nfkc().collect();
            if is_django_username(&normalized) {
                return Ok(Username(normalized));
            }
        }
        Err(UserInputError::Username(value.to_owned()))
    }
}

impl Username {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether Django's `User.username` field accepts `value` as it is: `UnicodeUsernameValidator`
/// (`^[\w.@+-]+\Z`) and at most [`USERNAME_MAX_CHARS`] characters. No normalisation.
pub fn is_django_username(value: &str) -> bool {
    let mut count = 0;
    for c in value.chars() {
        count += 1;
        if count > USERNAME_MAX_CHARS || !(is_python_word(c) || matches!(c, '.' | '@' | '+' | '-'))
        {
            return false;
        }
    }
    count > 0
}

/// Python 3's `\w` on `str`: `c.isalnum() or c == '_'`. `isalnum` is the letter categories
/// (L*) or a numeric type, which every N* character has and, in Python's Unicode, no other
/// assigned one (tests/django_usernames.rs holds this to Python itself). Not
/// `char::is_alphanumeric`: that also takes Other_Alphabetic, which is marks such as Devanagari
/// vowel signs and symbols such as Ⓐ, none of them `\w`.
fn is_python_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
    )
}

/// An email address: stored as given, unique by its [`Email::key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl TryFrom<&str> for Email {
    type Error = UserInputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let ok = value.len() <= 254
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && match value.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                }
                None => false,
            };
        if ok {
            Ok(Email(value.to_owned()))
        } else {
            Err(UserInputError::Email(value.to_owned()))
        }
    }
}

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form in which two addresses are the same: [`email_key`].
    pub fn key(&self) -> String {
        email_key(&self.0)
    }
}

/// Text as emails are compared: lowercased by Unicode's full mapping, canonically composed
/// (NFC of the lowercase of NFD, after Unicode's canonical caseless match, §3.13 D145), so
/// `JOSÉ@x` and `josé@x`, precomposed or not, meet. Computed here, not by the database: SQLite's
/// `lower()` folds ASCII only, and PostgreSQL's depends on the database's locale.
pub fn email_key(text: &str) -> String {
    let lower = text.nfd().collect::<String>().to_lowercase();
    lower.nfc().collect()
}

/// What a sign-in's login text is looked up as, in order: the username exactly as typed, the
/// username a creation would have stored for it (NFKC, as Django's sign-in form normalises),
/// and an email by [`email_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginKeys<'a> {
    pub username: &'a str,
    /// The NFKC form, when it differs from the text and could be a username.
    pub normalized_username: Option<String>,
    pub email_key: String,
}

impl<'a> LoginKeys<'a> {
    pub fn new(login: &'a str) -> Self {
        // The same bound as `Username`: a name over the limit was never normalised into one.
        let normalized_username = if login.chars().nth(USERNAME_MAX_CHARS).is_some()
            || is_nfkc_quick(login.chars()) == IsNormalized::Yes
        {
            None
        } else {
            Some(login.nfkc().collect::<String>()).filter(|n| n != login && is_django_username(n))
        };
        LoginKeys {
            username: login,
            normalized_username,
            email_key: email_key(login),
        }
    }
}

/// The 32-hex anonymous id Open edX calls `anonymous_user_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnonymousId(String);

impl TryFrom<&str> for AnonymousId {
    type Error = UserInputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if value.len() == 32
            && value
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            Ok(AnonymousId(value.to_owned()))
        } else {
            Err(UserInputError::AnonymousId(value.to_owned()))
        }
    }
}

impl AnonymousId {
    pub fn generate(random: &dyn crate::random::Random) -> Self {
        AnonymousId(crate::random::hex_id(random, 16))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_django() {
        for good in [
            "alice.b+c@x-y_z",
            "José.Admin",
            "李雷",
            "ünïcode",
            &"é".repeat(150),
        ] {
            assert_eq!(Username::try_from(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "has space",
            "x\n",
            &"a".repeat(151),
            "semi;colon",
            "हिन्दी",
        ] {
            assert!(Username::try_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_are_created_in_nfkc() {
        let created = |s: &str| Username::try_from(s).map(|u| u.0);
        assert_eq!(created("Jose\u{301}.Admin"), Ok("José.Admin".into()));
        assert_eq!(created("ｊｏｈｎ"), Ok("john".into()));
        // Normalising can make a name too long, or bring in a space.
        assert!(created(&"ﬁ".repeat(76)).is_err());
        assert!(created("\u{fdfa}").is_err());
        // Over the limit as given is refused without normalising, as Django's form field does.
        assert!(created(&"e\u{301}".repeat(76)).is_err());
    }

    #[test]
    fn std_alphanumeric_is_not_pythons_word() {
        // Other_Alphabetic: a Devanagari vowel sign (Mc), a combining mark (Mn), a circled letter (So).
        for c in ['\u{93f}', '\u{345}', 'Ⓐ'] {
            assert!(c.is_alphanumeric() && !is_python_word(c), "{c:?}");
        }
    }

    #[test]
    fn email_keys_fold_case_and_composition() {
        let key = |s: &str| Email::try_from(s).unwrap().key();
        assert_eq!(key("JOSÉ@Example.ORG"), "josé@example.org");
        assert_eq!(key("JOSE\u{301}@example.org"), key("josé@example.org"));
        assert_eq!(key("ΟΔΟΣ@x.gr"), key("οδος@x.gr"));
        assert_ne!(key("jose@example.org"), key("josé@example.org"));
    }

    #[test]
    fn logins_are_looked_up_as_typed_normalised_and_as_an_email() {
        let ascii = LoginKeys::new("Alice@Example.org");
        assert_eq!(ascii.normalized_username, None);
        assert_eq!(ascii.email_key, "alice@example.org");
        let wide = LoginKeys::new("ｊｏｓｅ\u{301}");
        assert_eq!(wide.username, "ｊｏｓｅ\u{301}");
        assert_eq!(wide.normalized_username.as_deref(), Some("josé"));
        assert_eq!(LoginKeys::new(&"ｊ".repeat(151)).normalized_username, None);
    }

    #[test]
    fn emails_need_one_at_and_no_spaces() {
        assert!(Email::try_from("a@b.org").is_ok());
        for bad in ["", "a", "@b", "a@", "a@b@c", "a b@c", "a@b\n"] {
            assert!(Email::try_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn anonymous_ids_are_32_lower_hex() {
        assert!(AnonymousId::try_from("0123456789abcdef0123456789abcdef").is_ok());
        assert!(AnonymousId::try_from("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(AnonymousId::try_from("abc").is_err());
        let id = AnonymousId::generate(&crate::random::OsRandom);
        assert!(AnonymousId::try_from(id.as_str()).is_ok());
    }
}
