//! The loop's timers, deadlines, cancellation and fairness, on real sockets.

use super::*;

#[test]
fn timers_wake_their_task_well_within_a_millisecond() {
    tight_timers();
    let late: Vec<Duration> = block_on(async {
        let mut late = Vec::new();
        for k in 0..40u64 {
            // Odd offsets, so the instants fall between millisecond ticks.
            let at = Instant::now() + Duration::from_micros(300 + 97 * k);
            sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "returned {:?} early", at - now);
            late.push(now - at);
        }
        late
    });
    let mut sorted = late.clone();
    sorted.sort();
    // Generous: the machine may be busy, but a millisecond tick would
    // put the median near half a millisecond.
    assert!(sorted[20] < Duration::from_micros(400), "{late:?}");
}

#[test]
fn a_request_past_its_deadline_is_given_up_within_a_sweep() {
    let mut lp = Loop::new(Duration::from_millis(5)).unwrap();
    let started = Instant::now();
    let out = lp.run(
        vec![async {
            // Nothing wakes this future but the sweep.
            within(
                Instant::now() + Duration::from_millis(30),
                poll_fn(|_| Poll::<()>::Pending),
            )
            .await
        }],
        None,
    );
    let took = started.elapsed();
    assert_eq!(out, vec![Some(None)]);
    assert!(
        took >= Duration::from_millis(30) && took < Duration::from_millis(500),
        "{took:?}"
    );
}

#[test]
fn cancellation_ends_a_phase_and_drops_its_tasks() {
    let mut lp = Loop::new(Duration::from_millis(5)).unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        trigger.cancel();
    });
    let out = lp.run(
        vec![
            Box::pin(async { sleep_until(Instant::now() + Duration::from_secs(30)).await })
                as std::pin::Pin<Box<dyn Future<Output = ()>>>,
            Box::pin(async {}),
        ],
        Some(&cancel),
    );
    assert_eq!(out, vec![None, Some(())]);
}

#[test]
fn a_worker_whose_socket_is_always_ready_lets_the_others_run() {
    // A server that sends without end: the first task's reads always
    // find bytes, so only its budget makes it yield.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = listener.accept().unwrap();
        let chunk = [b'x'; 64 << 10];
        while s.write_all(&chunk).is_ok() {}
    });
    let other_ran = Rc::new(Cell::new(false));
    let seen = other_ran.clone();
    let reader = Box::pin(async move {
        let s = Stream::connect(addr).await.unwrap();
        // Let the server fill the socket's receive buffer.
        sleep_until(Instant::now() + Duration::from_millis(50)).await;
        let mut buf = Vec::with_capacity(64);
        let mut read = 0usize;
        while !seen.get() && read < 64 << 20 {
            buf.clear();
            read += s.read(&mut buf).await.unwrap();
        }
        read
    }) as std::pin::Pin<Box<dyn Future<Output = usize>>>;
    let flag = other_ran.clone();
    let other = Box::pin(async move {
        sleep_until(Instant::now() + Duration::from_millis(60)).await;
        flag.set(true);
        0
    });
    let mut lp = Loop::new(Duration::from_millis(5)).unwrap();
    let out = lp.run(vec![reader, other], None);
    assert!(other_ran.get());
    let read = out[0].unwrap();
    // Unbudgeted, the reader would take all 64 MiB before the other
    // task ran; budgeted, it yields every few KiB.
    assert!(
        read < 16 << 20,
        "the reader kept the thread for {read} bytes"
    );
}
