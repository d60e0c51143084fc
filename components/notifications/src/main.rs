#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    notifications::component().main().await
}
