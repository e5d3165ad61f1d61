//! A chat template (`chat_template.json`'s or a GGUF's): compiled and rendered for a
//! prompt with an image, on fuel and with its output capped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smolvlm::prompt::{ChatTemplate, Message};

fuzz_target!(|data: &[u8]| {
    let _ = ChatTemplate::from_chat_template_json(data);
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = ChatTemplate::new(source) {
        let _ = t.render(&[Message::user(1, "Read the text.")], true, None);
    }
});
