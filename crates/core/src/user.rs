//! Users: who signs in. Disabled and unverified are two separate facts: a disabled user gets
//! nothing anywhere; an unverified user signs in and every token says `email_verified: false`.

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

/// Django's username rule (`UnicodeUsernameValidator` limited to ASCII, as Open edX does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl TryFrom<&str> for Username {
    type Error = UserInputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let ok = !value.is_empty()
            && value.len() <= 150
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c));
        if ok {
            Ok(Username(value.to_owned()))
        } else {
            Err(UserInputError::Username(value.to_owned()))
        }
    }
}

impl Username {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: stored as given, unique case-insensitively.
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
        assert!(Username::try_from("alice.b+c@x-y_z").is_ok());
        for bad in ["", "has space", "ünïcode", &"a".repeat(151), "semi;colon"] {
            assert!(Username::try_from(bad).is_err(), "{bad}");
        }
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
