//! Where clock readings and randomness come from: the [`Environment`] the stores and the
//! sync engine are given (so both stay testable with a fixed clock), and
//! [`SystemEnvironment`], the real one (`Date.now()` and Web Crypto in wasm32, the system
//! clock and the OS random source natively).

/// Where clock readings and randomness come from (injected so stores stay testable).
pub trait Environment {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Ten bytes from a cryptographic random source.
    fn random_bytes(&self) -> [u8; 10];
}

impl<E: Environment> Environment for std::rc::Rc<E> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn random_bytes(&self) -> [u8; 10] {
        (**self).random_bytes()
    }
}

/// The real clock and random source: `Date.now()` and `crypto.getRandomValues` in
/// wasm32, the system clock and the OS random source natively.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn now_ms(&self) -> u64 {
        #[cfg(target_arch = "wasm32")]
        {
            js_sys::Date::now() as u64
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        }
    }

    fn random_bytes(&self) -> [u8; 10] {
        let mut bytes = [0u8; 10];
        #[cfg(target_arch = "wasm32")]
        {
            fill_random_js(&mut bytes);
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            // The OS source does not fail on supported platforms; if it ever did, the
            // id would still be unique per generator thanks to its counter.
            let _ = getrandom::fill(&mut bytes);
        }
        bytes
    }
}

/// Fills `bytes` (any length) from the host's cryptographic random source, in chunks
/// `getRandomValues` accepts.
#[cfg(all(target_arch = "wasm32", any(feature = "client", feature = "sync")))]
pub(crate) fn fill_random(bytes: &mut [u8]) {
    for chunk in bytes.chunks_mut(65_536) {
        fill_random_js(chunk);
    }
}

/// Fills `bytes` from `globalThis.crypto.getRandomValues` (windows, workers, Node 19+,
/// workerd), falling back to `Math.random` where a host has no Web Crypto.
#[cfg(target_arch = "wasm32")]
fn fill_random_js(bytes: &mut [u8]) {
    use wasm_bindgen::JsCast;
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok());
    if let Some(crypto) = crypto {
        if crypto.get_random_values_with_u8_array(bytes).is_ok() {
            return;
        }
    }
    for b in bytes.iter_mut() {
        *b = (js_sys::Math::random() * 256.0) as u8;
    }
}
