"""A collector that is not there costs the traced service nothing: with
OTEL_EXPORTER_OTLP_ENDPOINT on a port where nothing listens, 100 requests
are served, weft stays up, says on stderr that export fails, accounts for
every span, and exits 0 within 2 s of SIGTERM.
A second run with short batching settings checks that a failed export is
reported while weft runs, not only in the summary at exit.

    test_dead_collector.py [http|grpc]
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
import weftlib  # noqa: E402

REQUESTS = 100
EXIT_SECONDS = 2.0


WARNING = re.compile(r"export.*(fail|drop|unavailable|refused)|(fail|drop).*export", re.I)


def warned_while_running(f, port, server, env):
    """Export failures are reported while weft runs: an operator must not
    have to stop the agent to learn that nothing reaches the collector."""
    env = dict(env, OTEL_BSP_SCHEDULE_DELAY="200", OTEL_BSP_EXPORT_TIMEOUT="2000")
    weft = e2elib.start_weft([server.pid], env=env)
    with weft:
        weft.wait_ready()
        for i in range(10):
            e2elib.http_get("http://127.0.0.1:%d/item/%d" % (port, i * 6), timeout=10)
        # The batch goes out after 0.2 s and gives up after at most 2 s of retries.
        deadline = time.time() + 6
        while time.time() < deadline and not any(WARNING.search(l) for l in weft.stderr_lines):
            time.sleep(0.1)
        running = [l for l in weft.stderr_lines if WARNING.search(l)]
        f.check(bool(running), "a failed export is reported on stderr while weft runs, "
                "within 6 s (OTEL_BSP_SCHEDULE_DELAY=200, OTEL_BSP_EXPORT_TIMEOUT=2000)")
        code, _ = weft.stop(timeout=10)
        f.check(code == 0, "short-batch run: weft exits 0")


def main():
    weftlib.require_bpf()
    protocol = sys.argv[1] if len(sys.argv) > 1 else "http"
    f = weftlib.Failures()
    dead_port = weftlib.free_port()  # bound and closed: nothing listens
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % dead_port,
           "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc" if protocol == "grpc" else "http/protobuf"}
    with e2elib.Processes() as procs:
        port = weftlib.free_port()
        server = procs.start_test_service("items", port)
        warned_while_running(f, port, server, env)
        # The specification's default batching: at SIGTERM a batch is still
        # queued or waiting to retry, which shutdown must cut short.
        weft = e2elib.start_weft([server.pid], env=dict(env, OTEL_BSP_SCHEDULE_DELAY="5000"))
        with weft:
            weft.wait_ready()
            statuses = []
            for i in range(REQUESTS):
                statuses.append(e2elib.http_get("http://127.0.0.1:%d/item/%d" % (port, i * 6),
                                                timeout=10)[0])
            f.check(statuses == [200] * REQUESTS, "all %d requests served while export fails (%d)"
                    % (REQUESTS, statuses.count(200)))
            # Give the exporter time to try (and fail) a batch or two.
            deadline = time.time() + 3
            while time.time() < deadline and weft.proc.poll() is None:
                time.sleep(0.1)
            f.check(weft.proc.poll() is None, "weft is still running")
            f.check(server.poll() is None, "the traced server is still running")
            code, seconds = weft.stop(timeout=10)
            f.check(code == 0, "weft exits 0 on SIGTERM (%d)" % code)
            f.check(seconds <= EXIT_SECONDS, "weft exits within %.0f s of SIGTERM (%.2f s)" %
                    (EXIT_SECONDS, seconds))
        stderr = "\n".join(weft.stderr_lines)

    f.check(WARNING.search(stderr) is not None, "stderr mentions the export failure")
    built = re.search(r"spans: (\d+) built", stderr)
    export = re.search(r"export: (\d+) exported, (\d+) dropped.*?(\d+) failed", stderr)
    if f.check(built is not None and export is not None, "stderr has the span and export summary"):
        n_built = int(built.group(1))
        exported, dropped, failed = (int(export.group(i)) for i in (1, 2, 3))
        f.check(n_built == REQUESTS, "%d spans built (%d)" % (REQUESTS, n_built))
        f.check(exported == 0, "nothing counted as exported (%d)" % exported)
        f.check(dropped + failed == n_built,
                "every span is counted as dropped or failed (%d + %d of %d)" %
                (dropped, failed, n_built))
    f.finish()


if __name__ == "__main__":
    main()
