#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    inventory::component().main().await
}
