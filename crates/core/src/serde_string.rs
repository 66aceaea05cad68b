//! Deserialisation of values that travel as strings and are parsed on arrival.
//!
//! A number in place of the string is rejected with a message of our own rather than serde's
//! "invalid type: integer `…`", which would repeat a resident id or phone number sent as a
//! JSON number into whatever logs the error.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// How a string-parsed type presents itself when deserialised.
pub(crate) struct StringForm<T, E> {
    /// What a valid value looks like, for errors about other JSON types.
    pub expecting: &'static str,
    /// The error given for a number instead of a string.
    pub not_a_string: &'static str,
    /// The type's parser; its error's `Display` becomes the deserialisation error.
    pub parse: fn(&str) -> Result<T, E>,
}

impl<T, E: fmt::Display> StringForm<T, E> {
    /// Deserialises through `parse`. Uses `deserialize_any` so that a number reaches the
    /// visitor instead of failing with serde's generic message.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<T, E: fmt::Display> Visitor<'_> for StringForm<T, E> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<Error: de::Error>(self, value: &str) -> Result<T, Error> {
        (self.parse)(value).map_err(Error::custom)
    }

    fn visit_i64<Error: de::Error>(self, _: i64) -> Result<T, Error> {
        Err(Error::custom(self.not_a_string))
    }

    fn visit_u64<Error: de::Error>(self, _: u64) -> Result<T, Error> {
        Err(Error::custom(self.not_a_string))
    }

    fn visit_f64<Error: de::Error>(self, _: f64) -> Result<T, Error> {
        Err(Error::custom(self.not_a_string))
    }
}
