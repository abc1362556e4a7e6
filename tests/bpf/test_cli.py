"""The CLI's contract: truthful `weft check`, exit code 2 with one clear
line for bad input and missing privileges, a clean exit on SIGTERM that
leaves nothing in the kernel."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weftlib  # noqa: E402


BPF_F_NO_PREALLOC = 1


def run(args, **kw):
    return subprocess.run([weftlib.WEFT] + args, capture_output=True, text=True, timeout=60, **kw)


def program_ids_held_by(pid):
    """BPF program ids behind a process's file descriptors (fdinfo prog_id)."""
    ids = set()
    fd_dir = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def weft_program_ids():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    progs = json.loads(out.stdout or "[]")
    return {p["id"] for p in progs if p.get("name", "").startswith("weft_")}


def maps_of(prog_ids):
    """{map name (truncated by the kernel): bpftool's map} for the maps those programs use."""
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                      text=True).stdout or "[]")
    map_ids = set()
    for p in progs:
        if p["id"] in prog_ids:
            map_ids.update(p.get("map_ids", []))
    maps = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True,
                                     text=True).stdout or "[]")
    return {m["name"]: m for m in maps if m["id"] in map_ids}


def kernel_allows_growing_hash_maps():
    """What the loader's rule (kernel_features.h) comes to: 6.1+ (BPF memory allocator), not RT."""
    try:
        with open("/sys/kernel/realtime") as f:
            if f.read().strip() not in ("", "0"):
                return False
    except OSError:
        pass
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    return (major, minor) >= (6, 1)


def check_unused_maps_shrink(f, pid):
    """Tables of a backend or feature the run does not use keep one entry:
    preallocated, they would lock their full size in kernel memory."""
    cases = [
        ([], {"active_syscalls": 1, "node_requests": 1, "node_sockets": 1,
              "goroutine_conte": 65536, "go_processes": 16384}),
        (["--no-go-probes", "--backend", "syscall"],
         {"active_syscalls": 65536, "goroutine_conte": 1, "go_processes": 1,
          "goroutine_sends": 1, "go_request_cont": 1, "goroutine_creat": 1}),
        (["--node-links", "inspector"], {"node_requests": 65536, "node_sockets": 65536}),
    ]
    growing = kernel_allows_growing_hash_maps()
    for extra, want in cases:
        weft = weftlib.Weft(["run", "--pid", str(pid), "--exporter", "none"] + extra)
        with weft:
            weft.wait_ready()
            maps = maps_of(program_ids_held_by(weft.proc.pid))
            weft.stop()
        got = {name: maps.get(name, {}).get("max_entries") for name in want}
        f.check(got == want, "map sizes with %s: %s (want %s)" % (extra or "defaults", got, want))
        if extra:
            continue
        # Per-thread state is allocated as threads are traced where the
        # kernel allows it: idle, the table locks its buckets, not 65,536
        # preallocated entries (about 13 MiB).
        threads = maps.get("thread_states", {})
        locked = int(threads.get("bytes_memlock", 0))
        if growing:
            f.check(threads.get("flags", 0) & BPF_F_NO_PREALLOC and locked < 4 << 20,
                    "thread_states grows as it fills (flags %s, %d bytes locked)"
                    % (threads.get("flags"), locked))
        else:
            f.check(locked > 8 << 20, "thread_states preallocated on this kernel (%d bytes)" % locked)


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()

    r = run(["version"])
    f.check(r.returncode == 0 and r.stdout.startswith("weft "), "weft version")
    for cmd in (["--help"], ["run", "--help"], ["check", "--help"]):
        r = run(cmd)
        f.check(r.returncode == 0 and "Usage" in r.stdout, "weft %s" % " ".join(cmd))

    r = run(["run", "--pid", "1", "--no-such-flag"])
    f.check(r.returncode == 2 and "no-such-flag" in (r.stderr + r.stdout),
            "unknown flag: exit 2 naming the flag (%d)" % r.returncode)
    r = run(["run", "--pid", "999999999"])
    f.check(r.returncode == 2 and "no such process 999999999" in r.stderr,
            "missing PID: exit 2 with a clear message (%r)" % r.stderr.strip())
    r = run(["run"])
    f.check(r.returncode == 2 and "--pid" in (r.stderr + r.stdout), "no --pid: exit 2")

    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=-all", weftlib.WEFT, "run", "--pid", str(sleeper.pid)],
                           capture_output=True, text=True, timeout=60)
        f.check(r.returncode == 2 and "CAP_BPF" in r.stderr and "root" in r.stderr,
                "unprivileged: exit 2 naming CAP_BPF and the fix (%r)" % r.stderr.strip())
        f.check(len(r.stderr.strip().splitlines()) == 1, "unprivileged: one line")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=-all", weftlib.WEFT, "check"],
                           capture_output=True, text=True, timeout=60)
        f.check(r.returncode == 2 and "CAP_BPF" in r.stdout and "cannot run here" in r.stdout,
                "unprivileged weft check: exit 2 naming the missing capabilities")

        r = run(["check"])
        out = r.stdout
        f.check(r.returncode == 0, "weft check exits 0 where weft can run")
        report = json.loads(run(["check", "--json"]).stdout)
        attach = {a["name"]: a["works"] for a in report["attach"]}
        f.check(attach.get("socket tracepoints (tp_btf sock_send_length)") is True,
                "check: socket tracepoints work")
        f.check(attach.get("uprobe") is True, "check: uprobes work")
        kprobe_pmu = os.path.exists("/sys/bus/event_source/devices/kprobe")
        f.check(attach.get("kprobe") is kprobe_pmu, "check: kprobe reported as %s" % kprobe_pmu)
        f.check(report["backend"] == "socket-tracepoints", "check: names the backend it will use")
        f.check(report["btf"] is True, "check: BTF present")
        f.check("capture backend socket-tracepoints" in out, "check: text names the backend")

        # This weft's programs are those its file descriptors hold (other
        # weft instances may be running on the machine).
        weft = weftlib.Weft(["run", "--pid", str(sleeper.pid), "--events"])
        with weft:
            weft.wait_ready()
            ours = program_ids_held_by(weft.proc.pid)
            code, took = weft.stop()
        time.sleep(0.2)
        left = ours & weft_program_ids()
        f.check(len(ours) >= 5, "programs loaded while running (%d)" % len(ours))
        f.check(code == 0 and took < 2.0, "SIGTERM: exit 0 within 2 s (%d, %.2fs)" % (code, took))
        f.check(not left, "nothing weft loaded is left in the kernel (%s)" % sorted(left))
        pinned = os.listdir("/sys/fs/bpf") if os.path.isdir("/sys/fs/bpf") else []
        f.check(not [p for p in pinned if "weft" in p], "nothing pinned")

        check_unused_maps_shrink(f, sleeper.pid)
    finally:
        sleeper.kill()
    f.finish()


if __name__ == "__main__":
    main()
