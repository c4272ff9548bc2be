#pragma once
// Files removed if the process is told to stop (SIGTERM from mpirun when another rank died,
// from scancel or a time limit; SIGINT, SIGHUP) or crashes (SIGSEGV, SIGABRT, ...): the output
// lock and the temporary output, so an interrupted run leaves nothing behind. SIGKILL cannot be caught: then the lock file may
// stay (harmless, the kernel released its lock) and so may a temporary file (.NAME.tessera-PID.tmp).
#include <string>

namespace tessera {

// Installs the handlers now (also done by the first remove_on_signal), so that handlers set
// later (checkpoints' stop requests) replace rather than precede them.
void install_cleanup_handlers();

// Registers `path` (at most a few at a time); returns a slot for forget_on_signal.
int remove_on_signal(const std::string& path);
void forget_on_signal(int slot);
// HDF5 1.10 crashes (SIGSEGV in H5F__close_cb) when it closes, at MPI_Finalize or exit, a file
// whose close already failed (a write past a size limit or on a full disk). After such a failure
// the process ends with _Exit instead, skipping the libraries' shutdown; main asks here.
void skip_library_shutdown();
bool library_shutdown_skipped();

// Removes the registered files now: before a rank aborts the whole job (MPI_Abort unwinds nothing).
void remove_registered_files();

}  // namespace tessera
