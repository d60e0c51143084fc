#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    orders::component().main().await
}
