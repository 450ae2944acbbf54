//! HTTP plumbing shared by every function, the top layer of the shared crate: refusals
//! (the [`HttpError`] trait and the one [`ErrorResponse`]), JSON answers and security
//! headers, the two shapes of a token answer, CORS, what a request carries, and the one log
//! line per request. The modules
//! below it never import it.

pub mod cors;
pub mod input;
pub mod log;
pub mod refusal;
pub mod response;
pub mod token_reply;

pub use cors::CorsPolicy;
pub use input::{
    bearer_token, body_within, decode_segment, media_type, optional_json, parse_query, printable, room_segment,
    InvalidName, RequestError, RoomSegmentError,
};
pub use log::{log_request, RequestFacts};
pub use refusal::{ErrorResponse, HttpError};
pub use response::{apply_security_headers, empty_response, json_response, SECURITY_HEADERS};
pub use token_reply::{token_reply, Form};
