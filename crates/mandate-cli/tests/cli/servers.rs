//! `--server` / `NATS_URL` as a list of servers, as the nats CLI takes it: the tool gets
//! through a list whose first entry is dead, and refuses an empty entry saying what to write.

use crate::common::{Env, counter, eventually, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_connects_through_a_server_list_whose_first_entry_is_dead() {
    let env = Env::new().await;
    let _counter = env.start(counter()).await;
    eventually("the counter to answer", || async {
        env.bus.status("counter").await.ok()
    })
    .await;
    let dead = runner::ports::free_port().expect("a free port");
    let list = format!("nats://127.0.0.1:{dead}, {}", env.server.url());
    // The tool picks a server of the list at random: a few runs try the dead one first.
    for _ in 0..3 {
        let status = run("nats://127.0.0.1:1", &["status", "--server", &list, "--json"], None)
            .await
            .ok()
            .json();
        let names: Vec<&str> = status["components"]
            .as_array()
            .expect("components")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert!(names.contains(&"counter"), "{status}");
    }
    // The same list from the environment.
    run(&list, &["status", "--json"], None).await.ok();
}

#[tokio::test]
async fn a_server_list_with_an_empty_entry_is_a_usage_error_saying_what_to_write() {
    let list = "nats://127.0.0.1:4222,,nats://127.0.0.1:4223";
    run(list, &["status"], None)
        .await
        .fails(2, "server 2 of 3 is empty")
        .fails(2, "nats://nats-1:4222,nats://nats-2:4222");
    run(
        "nats://127.0.0.1:4222",
        &["status", "--server", "nats://127.0.0.1:4222,"],
        None,
    )
    .await
    .fails(2, "server 2 of 2 is empty");
}
