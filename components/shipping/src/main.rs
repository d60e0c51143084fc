#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    shipping::component().main().await
}
