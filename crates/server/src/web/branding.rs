//! What pages show of the installation: its product name, logo and colours, from `[branding]`.
//! Colours are checked when the configuration is read, so that every page keeps readable
//! contrast (WCAG 2.1 §1.4.3: 4.5:1 for text) whatever the operator picks.

/// A colour as `#rrggbb` (or `#rgb`, expanded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour([u8; 3]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a colour like #0a66c2")]
pub struct ColourError(String);

impl std::str::FromStr for Colour {
    type Err = ColourError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ColourError(s.to_owned());
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let channel = |h: &str| u8::from_str_radix(h, 16).map_err(|_| bad());
        match hex.len() {
            6 => Ok(Colour([
                channel(&hex[0..2])?,
                channel(&hex[2..4])?,
                channel(&hex[4..6])?,
            ])),
            3 => {
                let twice = |i: usize| channel(&hex[i..=i].repeat(2));
                Ok(Colour([twice(0)?, twice(1)?, twice(2)?]))
            }
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

impl Colour {
    pub const WHITE: Colour = Colour([0xff, 0xff, 0xff]);
    /// The text colour of every page.
    pub const TEXT: Colour = Colour([0x1f, 0x1f, 0x1f]);

    /// WCAG 2.1 relative luminance.
    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.0[0]) + 0.7152 * linear(self.0[1]) + 0.0722 * linear(self.0[2])
    }

    /// WCAG 2.1 contrast ratio between two colours, from 1 to 21.
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

/// WCAG 2.1 AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

#[derive(Clone, Debug, PartialEq)]
pub struct Branding {
    pub product_name: String,
    /// Shown in the header instead of the name (which stays its alternative text).
    pub logo_url: Option<String>,
    /// Buttons and links; white text sits on it, and it sits on the background.
    pub primary_color: Colour,
    pub background_color: Colour,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            product_name: "Latchkey".into(),
            logo_url: None,
            primary_color: Colour([0x0a, 0x3d, 0x91]),
            background_color: Colour::WHITE,
        }
    }
}

impl Branding {
    /// What is wrong with these colours for reading, if anything, and the setting to change:
    /// white on the primary colour, the page text on the background, links in the primary colour
    /// on the background.
    pub fn contrast_problem(&self) -> Option<(&'static str, &'static str)> {
        let low = |a: Colour, b: Colour| a.contrast(b) < MIN_CONTRAST;
        if low(Colour::WHITE, self.primary_color) {
            Some((
                "branding.primary_color",
                "white button text on it must reach 4.5:1 contrast",
            ))
        } else if low(Colour::TEXT, self.background_color) {
            Some((
                "branding.background_color",
                "page text (#1f1f1f) on it must reach 4.5:1 contrast",
            ))
        } else if low(self.primary_color, self.background_color) {
            Some((
                "branding.primary_color",
                "links in it on background_color must reach 4.5:1 contrast",
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn colours_parse_strictly() {
        assert_eq!("#0A66c2".parse::<Colour>().unwrap().to_string(), "#0a66c2");
        assert_eq!("#fff".parse::<Colour>().unwrap(), Colour::WHITE);
        for bad in ["0a66c2", "#0a66c", "#gggggg", "#0a66c2;}", "red", "#ffff"] {
            assert!(bad.parse::<Colour>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_are_readable_and_pale_yellow_buttons_are_not() {
        assert_eq!(Branding::default().contrast_problem(), None);
        let pale = Branding {
            primary_color: "#ffeb3b".parse().unwrap(),
            ..Branding::default()
        };
        assert!(pale.contrast_problem().is_some());
        assert!((Colour::WHITE.contrast(Colour([0, 0, 0])) - 21.0).abs() < 1e-9);
    }
}
