use room_controls::RoomControlsService;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    livekit_lambda_shared::lambda::start::<RoomControlsService>().await
}
