"""Run every benchmark; each prints its figure and its ratio to a baseline measured in the same run."""

import bench_batch
import bench_cache
import bench_calibrate
import bench_coach_rule
import bench_dashboard
import bench_dashboard_browser
import bench_help
import bench_offline
import bench_stream
import bench_video

if __name__ == "__main__":
    bench_help.main()
    bench_stream.main()
    bench_coach_rule.main()
    bench_offline.main()
    bench_video.main()
    bench_cache.main()
    bench_dashboard.main()
    bench_dashboard_browser.main()
    bench_batch.main()
    bench_calibrate.main()
