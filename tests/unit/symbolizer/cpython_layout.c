/* CPython 3.11's struct offsets, computed by the C compiler from the installed
 * internal headers (C only: they use <stdatomic.h>); cpython_test.cc compares
 * weft's table with them. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#include <stddef.h>

const int weft_cpython_header_minor = PY_MINOR_VERSION;
const size_t weft_cpython_header_offsets[6] = {
    offsetof(_PyRuntimeState, interpreters.head),
    offsetof(_PyRuntimeState, gilstate.tstate_current),
    offsetof(PyInterpreterState, threads.head),
    offsetof(PyThreadState, next),
    offsetof(PyThreadState, native_thread_id),
    offsetof(PyThreadState, context),
};
