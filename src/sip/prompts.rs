//! What phone callers hear from the keypad features: the menu prompt, the
//! survey question, the callback confirmation and the goodbye. Built in
//! (`deploy/prompts/keypad/`, spoken by espeak-ng) so a server needs no
//! files; a menu may name its own recording.

use std::collections::HashMap;
use std::path::Path;

use crate::config::SipConfig;
use crate::media::prompt::Prompt;
use crate::media::{MediaError, Rate};

macro_rules! builtin {
    ($name:literal) => {
        Prompt::decode(
            concat!("builtin keypad prompt ", $name),
            std::io::Cursor::new(include_bytes!(concat!(
                "../../deploy/prompts/keypad/",
                $name,
                ".wav"
            ))),
            Rate::Narrowband,
        )
    };
}

/// Every prompt the trunk plays, decoded once at start.
#[derive(Clone, Debug)]
pub struct KeypadPrompts {
    /// Each menu's prompt, by dialled number.
    pub menus: HashMap<String, Prompt>,
    pub survey: Prompt,
    pub thanks: Prompt,
    pub callback: Prompt,
    /// A queue's hours say closed: call again during opening hours.
    pub closed: Prompt,
    /// A queue's hours say closed, and a callback is booked for the opening.
    pub closed_callback: Prompt,
}

impl KeypadPrompts {
    pub fn load(config: &SipConfig) -> Result<Self, MediaError> {
        let default_menu = builtin!("menu")?;
        let mut menus = HashMap::new();
        for (number, menu) in &config.menus {
            let prompt = if menu.prompt == "builtin" {
                default_menu.clone()
            } else {
                Prompt::load(Path::new(&menu.prompt), Rate::Narrowband)?
            };
            menus.insert(number.clone(), prompt);
        }
        Ok(KeypadPrompts {
            menus,
            survey: builtin!("survey")?,
            thanks: builtin!("thanks")?,
            callback: builtin!("callback")?,
            closed: builtin!("closed")?,
            closed_callback: builtin!("closed-callback")?,
        })
    }
}
