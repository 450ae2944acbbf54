//! The wire-level suite: one test binary, so the AWS SDK, livekit-api and the functions
//! are linked once instead of once per file. Each module is one area; run one with
//! `cargo test -p wire-tests --test suite <module>::`.

mod auth;
mod bad_input;
mod bootstrap;
mod burst;
mod cors;
mod event_fuzz;
mod events;
mod fleet;
mod hardening;
mod links;
mod lobby;
mod local_server;
mod moderation;
mod observability;
mod official_sdk;
mod properties;
mod repository;
mod rotation;
mod ssm_credentials;
mod state;
mod subtitles;
mod template;
mod webhook;
