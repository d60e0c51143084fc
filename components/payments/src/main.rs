#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    payments::component().main().await
}
