#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    catalog::component().main().await
}
