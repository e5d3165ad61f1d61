//! The community's split of a tool, beside the panel's, with Ship and Skip buttons.
//!
//! Pre-rendered, it is the catalog's text ("No community votes yet") and no buttons: that is
//! what a visitor without JavaScript, or a site built without a votes service, reads. When
//! the app runs and the page names a votes service (`<meta name="votes-api">`, written by
//! `cargo xtask dist --votes-api` / `serve`), it loads the live split and shows the buttons;
//! a vote reveals the new split with percentages and the count, and marks the button pressed.
//! If the service cannot be reached, the text stays as pre-rendered and no button appears.
//! The JSON is README.md's "Votes API".

use catalog::{Community, Tool, Vote};
use leptos::prelude::*;
use serde::Deserialize;

/// An item's split as the votes service answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LiveTally {
    pub ship: u32,
    pub skip: u32,
    pub your_vote: Option<String>,
}

impl LiveTally {
    fn community(&self) -> Community {
        Community {
            ships: self.ship,
            skips: self.skip,
        }
    }

    fn yours(&self) -> Option<Vote> {
        self.your_vote.as_deref().and_then(Vote::parse)
    }
}

/// What the row shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteState {
    /// As pre-rendered: the catalog's text, no buttons (no JavaScript, no votes service, or
    /// the service did not answer).
    Static,
    /// The live split; `sending` while a vote is on its way; `error` the last refusal.
    Live {
        tally: LiveTally,
        sending: Option<Vote>,
        error: Option<String>,
    },
}

/// What happens to the row (only the browser's requests make most of them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum VoteEvent {
    Loaded(LiveTally),
    Send(Vote),
    Sent(LiveTally),
    Failed(String),
}

/// The row's next state: a plain function of state and event, tested natively.
pub fn next(state: VoteState, event: VoteEvent) -> VoteState {
    match (state, event) {
        (_, VoteEvent::Loaded(tally)) | (_, VoteEvent::Sent(tally)) => VoteState::Live {
            tally,
            sending: None,
            error: None,
        },
        (VoteState::Live { tally, .. }, VoteEvent::Send(c)) => VoteState::Live {
            tally,
            sending: Some(c),
            error: None,
        },
        (VoteState::Live { tally, .. }, VoteEvent::Failed(e)) => VoteState::Live {
            tally,
            sending: None,
            error: Some(e),
        },
        // Nothing to send from, or a load that failed: stay as pre-rendered.
        (VoteState::Static, VoteEvent::Send(_) | VoteEvent::Failed(_)) => VoteState::Static,
    }
}

/// The split as text: the catalog's wording, of the live counts when there are some.
pub fn split_text(state: &VoteState, prerendered: &Community) -> String {
    match state {
        VoteState::Static => prerendered.summary(),
        VoteState::Live { tally, .. } => tally.community().summary(),
    }
}

/// The line under the buttons: the visitor's vote, a vote on its way, or the refusal.
pub fn note_text(state: &VoteState) -> String {
    match state {
        VoteState::Static => String::new(),
        VoteState::Live { error: Some(e), .. } => format!("Your vote was not counted: {e}"),
        VoteState::Live {
            sending: Some(c), ..
        } => format!("Sending your {} vote…", c.as_str()),
        VoteState::Live { tally, .. } => match tally.yours() {
            Some(c) => format!("You voted {} today; vote again to change it.", c.as_str()),
            None => "Vote to add yours.".to_string(),
        },
    }
}

/// The community split of `tool`, with Ship and Skip buttons once live.
#[component]
pub fn CommunityVote(tool: Tool) -> impl IntoView {
    let state = RwSignal::new(VoteState::Static);
    let prerendered = tool.community;
    let item = tool.slug.clone();
    {
        let item = item.clone();
        // Effects run in the browser only, after hydration.
        Effect::new(move |_| browser::load(item.clone(), state));
    }
    let name = tool.name.clone();
    // The buttons are made once, when the split turns live, and only their attributes
    // follow the state: a button that stays in the page keeps the keyboard focus.
    let live = Memo::new(move |_| matches!(state.get(), VoteState::Live { .. }));
    let pressed = move |c: Vote| match state.get() {
        VoteState::Live { tally, .. } => tally.yours() == Some(c),
        VoteState::Static => false,
    };
    // aria-disabled rather than disabled: a disabled button would drop the focus.
    let busy = move || {
        matches!(
            state.get(),
            VoteState::Live {
                sending: Some(_),
                ..
            }
        )
    };
    let buttons = move || {
        live.get().then(|| {
            let button = |c: Vote, label: &'static str| {
                let item = item.clone();
                let on_click = move |_| {
                    if busy() {
                        return;
                    }
                    state.update(|s| *s = next(s.clone(), VoteEvent::Send(c)));
                    browser::send(item.clone(), c, state);
                };
                view! {
                    <button
                        type="button"
                        class=format!("button vote-button vote-button-{}", c.as_str())
                        data-testid=format!("vote-{}", c.as_str())
                        aria-pressed=move || if pressed(c) { "true" } else { "false" }
                        aria-disabled=move || if busy() { "true" } else { "false" }
                        on:click=on_click
                    >
                        {label}
                    </button>
                }
            };
            view! {
                <div class="vote-buttons" role="group" aria-label=format!("Your vote on {name}")>
                    {button(Vote::Ship, "Ship")}
                    {button(Vote::Skip, "Skip")}
                </div>
            }
        })
    };
    view! {
        <div class="community-vote" data-testid="community" data-item=tool.slug.clone()>
            <span class="community-split" data-testid="community-split" aria-live="polite">
                {move || split_text(&state.get(), &prerendered)}
            </span>
            {buttons}
            <span class="vote-note muted" data-testid="vote-note" role="status">
                {move || note_text(&state.get())}
            </span>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::{next, LiveTally, Vote, VoteEvent, VoteState};

    /// `<meta name="votes-api">`: the service's root (`/` on the site's origin, or a URL).
    fn api() -> Option<String> {
        let doc = web_sys::window()?.document()?;
        let meta = doc.query_selector("meta[name=votes-api]").ok()??;
        meta.get_attribute("content").filter(|s| !s.is_empty())
    }

    pub fn load(item: String, state: RwSignal<VoteState>) {
        let Some(api) = api() else {
            return;
        };
        leptos::task::spawn_local(async move {
            // A service that does not answer leaves the pre-rendered text, without buttons.
            if let Ok(t) = request(&format!("{api}api/votes/{item}"), None).await {
                state.update(|s| *s = next(s.clone(), VoteEvent::Loaded(t)));
            }
        });
    }

    pub fn send(item: String, vote: Vote, state: RwSignal<VoteState>) {
        let Some(api) = api() else {
            return;
        };
        let body = serde_json::json!({ "item": item, "vote": vote.as_str() }).to_string();
        leptos::task::spawn_local(async move {
            let event = match request(&format!("{api}api/votes"), Some(body)).await {
                Ok(t) => VoteEvent::Sent(t),
                Err(e) => VoteEvent::Failed(e),
            };
            state.update(|s| *s = next(s.clone(), event));
        });
    }

    /// GET (or POST `body`) and parse the tally; an error is the service's reason or what
    /// went wrong on the way.
    async fn request(url: &str, body: Option<String>) -> Result<LiveTally, String> {
        let window = web_sys::window().ok_or("no window")?;
        let init = web_sys::RequestInit::new();
        init.set_credentials(web_sys::RequestCredentials::Omit);
        if let Some(body) = body {
            init.set_method("POST");
            let headers = web_sys::Headers::new().map_err(js)?;
            headers
                .set("Content-Type", "application/json")
                .map_err(js)?;
            init.set_headers(&headers);
            init.set_body(&JsValue::from_str(&body));
        }
        let res: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await
            .map_err(|_| "the votes service cannot be reached".to_string())?
            .dyn_into()
            .map_err(js)?;
        let text = JsFuture::from(res.text().map_err(js)?)
            .await
            .map_err(js)?
            .as_string()
            .unwrap_or_default();
        if !res.ok() {
            let reason = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("the votes service answered {}", res.status()));
            return Err(reason);
        }
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer: {e}"))
    }

    fn js(e: JsValue) -> String {
        e.as_string().unwrap_or_else(|| format!("{e:?}"))
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    use leptos::prelude::RwSignal;

    use super::{Vote, VoteState};

    pub fn load(_item: String, _state: RwSignal<VoteState>) {}
    pub fn send(_item: String, _vote: Vote, _state: RwSignal<VoteState>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(ship: u32, skip: u32, yours: Option<&str>) -> LiveTally {
        LiveTally {
            ship,
            skip,
            your_vote: yours.map(str::to_owned),
        }
    }

    #[test]
    fn without_a_service_the_row_reads_as_prerendered() {
        let c = Community::default();
        assert_eq!(split_text(&VoteState::Static, &c), "No community votes yet");
        assert_eq!(note_text(&VoteState::Static), "");
        // A click cannot happen without buttons; a failed load changes nothing.
        let s = next(VoteState::Static, VoteEvent::Failed("down".into()));
        assert_eq!(s, VoteState::Static);
    }

    #[test]
    fn a_vote_reveals_the_new_split_and_marks_the_visitors_vote() {
        let s = next(VoteState::Static, VoteEvent::Loaded(tally(1, 1, None)));
        assert_eq!(
            split_text(&s, &Community::default()),
            "50% ship · 1 ship / 1 skip"
        );
        assert_eq!(note_text(&s), "Vote to add yours.");
        let s = next(s, VoteEvent::Send(Vote::Ship));
        assert_eq!(note_text(&s), "Sending your ship vote…");
        let s = next(s, VoteEvent::Sent(tally(2, 1, Some("ship"))));
        assert_eq!(
            split_text(&s, &Community::default()),
            "67% ship · 2 ship / 1 skip"
        );
        assert_eq!(
            note_text(&s),
            "You voted ship today; vote again to change it."
        );
    }

    #[test]
    fn a_refused_vote_keeps_the_split_and_says_why() {
        let s = next(VoteState::Static, VoteEvent::Loaded(tally(3, 0, None)));
        let s = next(s, VoteEvent::Send(Vote::Skip));
        let s = next(
            s,
            VoteEvent::Failed("too many votes from this address".into()),
        );
        assert_eq!(
            split_text(&s, &Community::default()),
            "100% ship · 3 ship / 0 skip"
        );
        assert_eq!(
            note_text(&s),
            "Your vote was not counted: too many votes from this address"
        );
    }

    #[test]
    fn the_service_answer_parses_with_fields_we_do_not_use() {
        let t: LiveTally = serde_json::from_str(
            r#"{"item":"x","ship":2,"skip":1,"total":3,"ship_percent":67,"your_vote":"skip"}"#,
        )
        .unwrap();
        assert_eq!(t, tally(2, 1, Some("skip")));
        assert_eq!(t.yours(), Some(Vote::Skip));
    }
}
