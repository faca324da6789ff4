"""Kill mariadbd (kill -9) on the node that holds a shard's VIP, and measure where the VIP goes.

    python kill_holder.py (--shard 0 | --vip 10.214.1.222) --label split [--delay 2] [--expect-move] [--timeout 60]

Run by a converge beside a nested ansible-playbook (interrupt_at.py --fault), while the load generator writes:
the shard is entry --shard of the inventory's smooth_shards (or --vip names the VIP); the VIP's holder is the node that answers on it
(SELECT @@hostname through the VIP, fleet.vip_holder). After the kill it asks the VIP again, every 0.2 s, until
a node answers, and prints one line:

    FIGURE failover_seconds[split] = 1.84 (mariadbd killed on mol-1, VIP 10.214.1.200 now on mol-3)

or, when the VIP came back on the same node (systemd restarted mariadbd: the node had no VRRP peer to take it),
"... VIP 10.214.1.200 back on mol-1 after its restart, no failover".

Exit status: 0; 1 with --expect-move when no other node answered within --timeout; 2 when no node held the VIP.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402  pylint: disable=wrong-import-position


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard", type=int, default=0, help="index of the shard in smooth_shards")
    parser.add_argument("--vip", help="this VIP instead of the shard's (a VIP of smooth_expansion_vip_pool)")
    parser.add_argument("--label", required=True, help="the phase or moment, printed in the FIGURE line")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before the kill")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a node to answer again")
    parser.add_argument("--expect-move", action="store_true",
                        help="fail unless another node answers on the VIP within --timeout")
    args = parser.parse_args(argv)

    shard = {"vip": args.vip} if args.vip else fleet.SHARDS[args.shard]
    vip = fleet.vip_of(shard)
    time.sleep(args.delay)
    holder = fleet.wait_for(lambda: fleet.vip_holder(shard), 10, interval=0.2)
    if not holder:
        print("kill_holder[%s]: no node answered on %s for 10 s: nothing killed" % (args.label, vip))
        return 2
    fleet.host(holder).check_output("pkill -KILL -x mariadbd")
    killed = time.monotonic()
    print("kill_holder[%s]: mariadbd killed (kill -9) on %s, the holder of %s" % (args.label, holder, vip), flush=True)

    now_on = fleet.wait_for(lambda: fleet.vip_holder(shard), args.timeout, interval=0.2)
    seconds = time.monotonic() - killed
    if now_on and now_on != holder:
        print("FIGURE failover_seconds[%s] = %.2f (mariadbd killed on %s, VIP %s now on %s)"
              % (args.label, seconds, holder, vip, now_on))
        return 0
    if now_on:
        print("FIGURE failover_seconds[%s] = %.2f (mariadbd killed on %s, VIP %s back on %s after its restart, "
              "no failover)" % (args.label, seconds, holder, vip, now_on))
    else:
        print("kill_holder[%s]: no node answered on %s within %.0f s of the kill on %s"
              % (args.label, vip, args.timeout, holder))
    return 1 if args.expect_move else 0


if __name__ == "__main__":
    sys.exit(main())
