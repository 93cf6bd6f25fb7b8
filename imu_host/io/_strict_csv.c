/* The compiled twin of imu_host/io/recording.py: _exact_block_numpy (optional: built by
 * `pip install` when a C compiler is there; without it the numpy reader is used, and
 * tests/test_recording_strict.py holds the two equal).
 *
 * read(src, out, ncol, bounds) -> rows, or -1
 *   src:    bytes-like, whole lines of "strict" decimal rows: every line ends with '\n'
 *           and has ncol comma-separated fields, each -?D+.D+ (an optional minus, 1 to
 *           WORD_DIGITS digits, a dot, 1 to WORD_DIGITS digits, at most EXACT_DIGITS
 *           digits in all), nothing else;
 *   out:    writable float64 buffer, filled row by row;
 *   bounds: float64 buffer of ncol limits on |value|.
 * Returns the number of rows, or -1 for a block that is not strict, holds a value beyond
 * its bound or does not fit in out (the caller then takes the general reader).
 *
 * Each value is exactly what Python's float() gives for its text: the digits as one
 * integer (below 10**15 < 2**53, so exact as a double) divided by the exact power of ten
 * of the decimals: one correctly rounded IEEE division of exact operands.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define WORD_DIGITS 8
#define EXACT_DIGITS 15

static const double POW10[WORD_DIGITS + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};

static Py_ssize_t read_rows(const unsigned char *p, Py_ssize_t len, double *out,
                            Py_ssize_t cap, int ncol, const double *bounds) {
    const unsigned char *end = p + len;
    Py_ssize_t k = 0, rows = 0;
    if (len == 0 || end[-1] != '\n') return -1;
    while (p < end) {
        for (int c = 0; c < ncol; c++) {
            int neg = 0;
            uint64_t m = 0;
            const unsigned char *q;
            int whole, frac;
            double v;
            if (k >= cap) return -1;
            if (*p == '-') {
                neg = 1;
                p++;
            }
            q = p;
            while (p < end && (unsigned)(*p - '0') < 10u && p - q <= WORD_DIGITS) {
                m = m * 10u + (uint64_t)(*p - '0');
                p++;
            }
            whole = (int)(p - q);
            if (whole < 1 || whole > WORD_DIGITS || p >= end || *p != '.') return -1;
            p++;
            q = p;
            while (p < end && (unsigned)(*p - '0') < 10u && p - q <= WORD_DIGITS) {
                m = m * 10u + (uint64_t)(*p - '0');
                p++;
            }
            frac = (int)(p - q);
            if (frac < 1 || frac > WORD_DIGITS || whole + frac > EXACT_DIGITS) return -1;
            v = (double)m / POW10[frac];
            if (neg) v = -v;
            if (fabs(v) > bounds[c]) return -1;
            if (p >= end || *p != (c == ncol - 1 ? '\n' : ',')) return -1;
            p++;
            out[k++] = v;
        }
        rows++;
    }
    return rows;
}

static PyObject *strict_read(PyObject *self, PyObject *args) {
    Py_buffer src, out, bounds;
    int ncol;
    Py_ssize_t rows = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*iy*", &src, &out, &ncol, &bounds)) return NULL;
    if (ncol >= 1 && bounds.len >= (Py_ssize_t)(ncol * sizeof(double))) {
        Py_BEGIN_ALLOW_THREADS
        rows = read_rows((const unsigned char *)src.buf, src.len, (double *)out.buf,
                         out.len / (Py_ssize_t)sizeof(double), ncol, (const double *)bounds.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&out);
    PyBuffer_Release(&bounds);
    return PyLong_FromSsize_t(rows);
}

static PyMethodDef methods[] = {
    {"read", strict_read, METH_VARARGS,
     "read(src, out, ncol, bounds) -> rows, or -1: strict decimal rows into out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_strict_csv",
    "Compiled reader of strict decimal rows (the twin of recording._exact_block_numpy).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__strict_csv(void) { return PyModule_Create(&module); }
