//! A handler that takes the whole process down, and what the kit does about it.
//!
//! A panic is caught and retried like any failure. An `abort`, a stack overflow or running out
//! of memory ends the process instead; its supervisor restarts it and, without a guard, the
//! same message would end it again at every start. The kit notes which messages each start
//! begins with; after `--max-attempts` stops on one message it sets that message aside on
//! `dlq.crash-loop`, without running its handler again, and carries on. The kit's test
//! `process::a_message_that_stops_the_process_is_set_aside_after_max_attempts` runs this.

use mandate::{Component, Context, HandlerResult};
use schemas::orders::OrderPlaced;

fn remember(ctx: &mut Context<'_>, placed: OrderPlaced) -> HandlerResult {
    if placed.customer_id == "poison" {
        // Not a panic, which the kit would catch: the process ends here.
        std::process::abort();
    }
    ctx.put(&format!("order/{}", placed.order_id), &placed.customer_id)?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    Component::new("crash-loop")
        .description("remembers orders, and dies on the poison customer's")
        .on::<OrderPlaced>(remember)
        .main()
        .await
}
