#pragma once
// A request to stop at the next tile boundary (SIGTERM, SIGUSR1: Slurm's --signal, Kubernetes'
// eviction, mpirun forwarding either). Only while checkpoints are enabled: the handler merely sets
// a flag (async-signal-safe) that the run loop polls; without checkpoints SIGTERM keeps the
// cleanup handler (remove temporary files, die of the signal) and SIGUSR1 its default.
namespace tessera {

// Installs the flag-setting handler for SIGTERM and SIGUSR1 (replacing the cleanup handler's).
void stop_on_signal_at_tile_boundary();
// Without checkpoints: SIGUSR1 (Slurm's early warning) is ignored, the run goes on.
void ignore_stop_signal();
bool stop_requested();
int stop_signal();  // the signal that asked, 0 if none

}  // namespace tessera
