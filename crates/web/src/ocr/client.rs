//! The page's side of the inference worker: starts it, queues requests until it says it
//! is ready, sends `ocr-protocol` requests (with the picture as a transferred buffer) and
//! hands every event to the page. A worker that crashed is replaced by a fresh one.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Reflect};
use ocr_protocol::{from_json, to_json, Event, Request};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// What comes from the worker.
pub enum Incoming {
    /// An event, and the bytes that came with it (a rendered PDF page).
    Event(Event, Option<ArrayBuffer>),
    /// The worker's module trapped (a panic, or an allocation that failed: `oom` bytes)
    /// or the worker could not start. Sent by `ocr-worker-loader.js` or seen as the
    /// worker's `error` event.
    Crash { message: String, oom: u64 },
}

type Handler = Rc<dyn Fn(Incoming)>;

struct Running {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

/// The worker and what waits for it.
pub struct Client {
    url: String,
    handler: Handler,
    running: Option<Running>,
    ready: bool,
    /// Requests made before the worker said it was ready: (message, picture, files).
    queue: Vec<(String, Option<ArrayBuffer>, Option<Array>)>,
}

impl Client {
    /// Starts the worker from `url` (the site's `ocr-worker-loader.js`).
    pub fn start(url: String, handler: impl Fn(Incoming) + 'static) -> Rc<RefCell<Client>> {
        let client = Rc::new(RefCell::new(Client {
            url,
            handler: Rc::new(handler),
            running: None,
            ready: false,
            queue: Vec::new(),
        }));
        Self::spawn(&client);
        client
    }

    fn spawn(this: &Rc<RefCell<Client>>) {
        let url = this.borrow().url.clone();
        let weak = Rc::downgrade(this);
        let handler = this.borrow().handler.clone();
        let worker = match Worker::new(&url) {
            Ok(w) => w,
            Err(e) => {
                handler(Incoming::Crash {
                    message: format!("the browser refused to start the worker: {e:?}"),
                    oom: 0,
                });
                return;
            }
        };
        let on_message = {
            let weak = weak.clone();
            let handler = handler.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
                let data = ev.data();
                if let Some(crash) = Reflect::get(&data, &"crash".into())
                    .ok()
                    .and_then(|c| c.as_string())
                {
                    let oom = Reflect::get(&data, &"oom".into())
                        .ok()
                        .and_then(|v| v.as_f64())
                        .unwrap_or(0.0) as u64;
                    handler(Incoming::Crash {
                        message: crash,
                        oom,
                    });
                    return;
                }
                let Some(msg) = Reflect::get(&data, &"msg".into())
                    .ok()
                    .and_then(|m| m.as_string())
                else {
                    return;
                };
                match from_json::<Event>(&msg) {
                    Ok(event) => {
                        if matches!(event, Event::Ready { .. }) {
                            if let Some(client) = weak.upgrade() {
                                Client::flush(&client);
                            }
                        }
                        let bytes = Reflect::get(&data, &"bytes".into())
                            .ok()
                            .and_then(|b| b.dyn_into::<ArrayBuffer>().ok());
                        handler(Incoming::Event(event, bytes));
                    }
                    Err(e) => leptos::logging::error!("{e}"),
                }
            })
        };
        let on_error = {
            let handler = handler.clone();
            Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
                ev.prevent_default();
                handler(Incoming::Crash {
                    message: ev.message(),
                    oom: 0,
                });
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let mut c = this.borrow_mut();
        c.ready = false;
        c.running = Some(Running {
            worker,
            _on_message: on_message,
            _on_error: on_error,
        });
    }

    fn flush(this: &Rc<RefCell<Client>>) {
        let queue = {
            let mut c = this.borrow_mut();
            c.ready = true;
            std::mem::take(&mut c.queue)
        };
        for (msg, bytes, files) in queue {
            let sent = this.borrow().post(&msg, bytes, files);
            if let Err(e) = sent {
                let handler = this.borrow().handler.clone();
                handler(e);
            }
        }
    }

    fn post(
        &self,
        msg: &str,
        bytes: Option<ArrayBuffer>,
        files: Option<Array>,
    ) -> Result<(), Incoming> {
        let Some(running) = &self.running else {
            return Ok(());
        };
        let obj = js_sys::Object::new();
        let _ = Reflect::set(&obj, &"msg".into(), &msg.into());
        let transfer = Array::new();
        if let Some(b) = &bytes {
            let _ = Reflect::set(&obj, &"bytes".into(), b);
            transfer.push(b);
        }
        if let Some(f) = &files {
            let _ = Reflect::set(&obj, &"files".into(), f);
        }
        running
            .worker
            .post_message_with_transfer(&obj, &transfer)
            .map_err(|e| Incoming::Crash {
                message: format!("could not send to the worker: {e:?}"),
                oom: 0,
            })
    }

    /// Sends a request; `bytes` (the picture) is transferred, not copied.
    pub fn send(
        this: &Rc<RefCell<Client>>,
        req: &Request,
        bytes: Option<ArrayBuffer>,
        files: Option<Array>,
    ) {
        let msg = to_json(req);
        let mut c = this.borrow_mut();
        if !c.ready {
            c.queue.push((msg, bytes, files));
            return;
        }
        drop(c);
        let sent = this.borrow().post(&msg, bytes, files);
        if let Err(e) = sent {
            let handler = this.borrow().handler.clone();
            handler(e);
        }
    }

    /// Ends the worker at once (whatever it is doing) and starts a fresh one.
    pub fn restart(this: &Rc<RefCell<Client>>) {
        Self::terminate(this);
        Self::spawn(this);
    }

    /// Ends the worker for good.
    pub fn terminate(this: &Rc<RefCell<Client>>) {
        let mut c = this.borrow_mut();
        if let Some(r) = c.running.take() {
            r.worker.terminate();
        }
        c.ready = false;
        c.queue.clear();
    }
}
