//! What a room's moderators decided about the participant a token is for (issue 30,
//! docs/moderators.md), consulted before every token is signed when `MODERATION=on`: a
//! removed member gets none (`403 removed_from_room`; a link's guest by their link's
//! family), a role a moderator gave overrides what the claims say, and right after a lifted
//! removal the token waits to be newer than the removal LiveKit was told to enforce.

use livekit_lambda_shared::membership;
use livekit_lambda_shared::token::ParticipantToken;
use livekit_lambda_shared::ErrorResponse;

use crate::context::Context;

/// `token`, as the room's moderators' decisions leave it (one read of the fleet store).
pub async fn apply(context: &Context, token: ParticipantToken) -> Result<ParticipantToken, ErrorResponse> {
    let Some(store) = &context.member_store else { return Ok(token) };
    let who = &token.participant;
    match membership::admit(store.as_ref(), &who.room, &who.identity).await?? {
        Some(moderator) if moderator != token.room_admin => {
            Ok(context.settings.policy.token(token.participant, moderator))
        }
        _ => Ok(token),
    }
}
