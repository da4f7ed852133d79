/*
** heat.c: an example iscsdk solver plugin (include/iscsdk/solver_plugin.h).
**
** It solves 2-D steady heat conduction on a rectangular plate: the Laplace
** equation on a grid of nx by ny points, with fixed (Dirichlet) temperatures
** on the four edges, by successive over-relaxation (SOR; Gauss-Seidel when
** omega is 1) until the residual is below a tolerance or an iteration limit
** is reached.
**
** Arguments (args_json): {"input": "NAME"}, the input file's name in workdir;
** "model.heat" when absent. Input file: one "key value..." per line, '#'
** starts a comment, keys in any order:
**
**     nx 41               grid points along x, edges included (3..4096)
**     ny 41               grid points along y, edges included (3..4096)
**     top 100             edge temperature: one value, or two for a linear
**     bottom 0 0          variation from the first to the second end (left to
**     left 0              right for top and bottom, bottom to top for left and
**     right 0             right)
**     tolerance 1e-6      stop when max |residual| <= tolerance (optional, 1e-6)
**     max_iterations 1e5  give up after this many sweeps (optional, 100000)
**     omega 1.9           relaxation factor, 0 < omega < 2 (optional; default
**                         the optimal one for the grid)
**     log_every 500       a log line every this many sweeps (optional, 500)
**
** The residual of a point is the mean of its four neighbours minus its value,
** in the unit of the temperatures. Output, in workdir: result.csv (the field:
** "i,j,temperature", i along x from the left edge, j along y from the bottom
** edge, corners the mean of their two edges) and summary.txt ("key value"
** lines: solver, grid, converged, iterations, residual, max_temperature,
** min_temperature, center_temperature, the last interpolated at the plate's
** centre).
**
** Status: 0 solved; 1 input file missing or unreadable; 2 input file invalid;
** 3 no convergence within max_iterations (the field is written anyway);
** 4 an output file could not be written; 5 out of memory; 6 bad args_json;
** ISCSDK_SOLVER_CANCELED when asked to stop. A failure's reason is the last
** log line.
**
** Build: cc -shared -fPIC -O2 -std=c99 -Wall -Wextra -Werror -Iinclude
**        examples/solver-plugin/heat.c -o build/lib/libheat_solver.so -lm
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsdk/solver_plugin.h"

#define HEAT_NAME "heat 1.0"

#define HEAT_E_READ      1
#define HEAT_E_INPUT     2
#define HEAT_E_DIVERGED  3
#define HEAT_E_WRITE     4
#define HEAT_E_MEMORY    5
#define HEAT_E_ARGS      6

#define HEAT_MAX_POINTS  4096
#define HEAT_PATH_MAX    4096
/* The callback is called every few sweeps, to report and to be asked to
** stop: every sweep on large grids, at most every HEAT_CHECK_MAX on small ones,
** so that it is called every HEAT_CHECK_POINTS point updates or so (well under
** 100 ms of work). */
#define HEAT_CHECK_MAX    8
#define HEAT_CHECK_POINTS 100000

enum { EDGE_TOP, EDGE_BOTTOM, EDGE_LEFT, EDGE_RIGHT, EDGE_COUNT };

typedef struct heat_model {
    long nx, ny;
    double edge[EDGE_COUNT][2]; /* temperature at the first and second end */
    int edge_set[EDGE_COUNT];
    double tolerance;
    long max_iterations;
    double omega;               /* 0: the optimal one */
    long log_every;
} heat_model;

typedef struct heat_run {
    iscsdk_solver_progress_fn progress;
    void* user_data;
    int canceled;
} heat_run;

/* Send a log line (NULL: none) and progress; returns non-zero if asked to stop. */
static int report(heat_run* run, int32_t progress, const char* line)
{
    if (!run->canceled && run->progress(run->user_data, progress, line) != 0) {
        run->canceled = 1;
    }
    return run->canceled;
}

/* Send "WHAT ITERATION: residual R"; returns non-zero if asked to stop. */
static int report_iteration(heat_run* run, int32_t progress, const char* what, long iteration, double residual)
{
    char line[128];
    snprintf(line, sizeof line, "%s %ld: residual %.3e", what, iteration, residual);
    return report(run, progress, line);
}

/* ---- args_json ---------------------------------------------------------- */

/* Copy the string value of "input" in json into out; "model.heat" when absent.
** Returns 0, or -1 if the value is not a plain file name. Only the escapes
** \" \\ and \/ are understood: a file name needs no others. */
static int input_name(const char* json, char* out, size_t size)
{
    const char* p = strstr(json, "\"input\"");
    size_t n = 0;
    if (p == NULL) {
        snprintf(out, size, "%s", "model.heat");
        return 0;
    }
    p += strlen("\"input\"");
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p++ != ':') return -1;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p++ != '"') return -1;
    for (; *p != '"'; p++) {
        char c = *p;
        if (c == '\0') return -1;
        if (c == '\\') {
            c = *++p;
            if (c != '"' && c != '\\' && c != '/') return -1;
        }
        if (c == '/' || c == '\\' || n + 1 >= size) return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) return -1;
    return 0;
}

/* ---- the input file ----------------------------------------------------- */

static int parse_number(const char* s, double* out)
{
    char* end;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*out);
}

/* Read the model from path; on failure returns the status and writes the
** reason into why. */
static int read_model(const char* path, heat_model* m, char* why, size_t why_size)
{
    static const char* const edge_names[EDGE_COUNT] = {"top", "bottom", "left", "right"};
    char line[1024];
    int lineno = 0, e;
    double nx = 0, ny = 0, max_iterations = 100000, log_every = 500;
    FILE* f = fopen(path, "r");

    memset(m, 0, sizeof *m);
    m->tolerance = 1e-6;
    if (f == NULL) {
        snprintf(why, why_size, "cannot open: %s", strerror(errno));
        return HEAT_E_READ;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char* tok[4];
        int ntok = 0;
        char* p;
        double v[3];
        int i;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(why, why_size, "line %d: too long", lineno);
            goto invalid;
        }
        p = strchr(line, '#');
        if (p != NULL) *p = '\0';
        for (p = strtok(line, " \t\r\n"); p != NULL; p = strtok(NULL, " \t\r\n")) {
            if (ntok == 4) {
                snprintf(why, why_size, "line %d: too many values", lineno);
                goto invalid;
            }
            tok[ntok++] = p;
        }
        if (ntok == 0) continue;
        for (i = 1; i < ntok; i++) {
            if (!parse_number(tok[i], &v[i - 1])) {
                snprintf(why, why_size, "line %d: %s: not a number: %s", lineno, tok[0], tok[i]);
                goto invalid;
            }
        }
        for (e = 0; e < EDGE_COUNT; e++) {
            if (strcmp(tok[0], edge_names[e]) == 0) break;
        }
        if (e < EDGE_COUNT) {
            if (ntok != 2 && ntok != 3) {
                snprintf(why, why_size, "line %d: %s takes one or two temperatures", lineno, tok[0]);
                goto invalid;
            }
            m->edge[e][0] = v[0];
            m->edge[e][1] = ntok == 3 ? v[1] : v[0];
            m->edge_set[e] = 1;
            continue;
        }
        if (ntok != 2) {
            snprintf(why, why_size, "line %d: %s takes one value", lineno, tok[0]);
            goto invalid;
        }
        if (strcmp(tok[0], "nx") == 0) nx = v[0];
        else if (strcmp(tok[0], "ny") == 0) ny = v[0];
        else if (strcmp(tok[0], "tolerance") == 0) m->tolerance = v[0];
        else if (strcmp(tok[0], "max_iterations") == 0) max_iterations = v[0];
        else if (strcmp(tok[0], "omega") == 0) m->omega = v[0];
        else if (strcmp(tok[0], "log_every") == 0) log_every = v[0];
        else {
            snprintf(why, why_size, "line %d: unknown key %s", lineno, tok[0]);
            goto invalid;
        }
    }
    if (ferror(f)) {
        snprintf(why, why_size, "read error");
        fclose(f);
        return HEAT_E_READ;
    }
    fclose(f);

    if (nx < 3 || nx > HEAT_MAX_POINTS || nx != floor(nx) || ny < 3 || ny > HEAT_MAX_POINTS || ny != floor(ny)) {
        snprintf(why, why_size, "nx and ny must be whole numbers from 3 to %d", HEAT_MAX_POINTS);
        return HEAT_E_INPUT;
    }
    for (e = 0; e < EDGE_COUNT; e++) {
        if (!m->edge_set[e]) {
            snprintf(why, why_size, "no temperature for the %s edge", edge_names[e]);
            return HEAT_E_INPUT;
        }
    }
    if (!(m->tolerance > 0)) {
        snprintf(why, why_size, "tolerance must be positive");
        return HEAT_E_INPUT;
    }
    if (max_iterations < 1 || max_iterations > 1e9 || log_every < 1 || log_every > 1e9) {
        snprintf(why, why_size, "max_iterations and log_every must be from 1 to 1e9");
        return HEAT_E_INPUT;
    }
    if (m->omega != 0 && !(m->omega > 0 && m->omega < 2)) {
        snprintf(why, why_size, "omega must be between 0 and 2");
        return HEAT_E_INPUT;
    }
    m->nx = (long)nx;
    m->ny = (long)ny;
    m->max_iterations = (long)max_iterations;
    m->log_every = (long)log_every;
    if (m->omega == 0) {
        /* the optimal SOR factor for the 5-point Laplacian on this grid */
        double pi = acos(-1.0);
        double rho = (cos(pi / (double)(m->nx - 1)) + cos(pi / (double)(m->ny - 1))) / 2;
        m->omega = 2 / (1 + sqrt(1 - rho * rho));
    }
    return 0;

invalid:
    fclose(f);
    return HEAT_E_INPUT;
}

/* ---- the solver --------------------------------------------------------- */

#define T(i, j) t[(size_t)(j) * (size_t)m->nx + (size_t)(i)]

static void set_edges(const heat_model* m, double* t)
{
    long i, j;
    for (i = 0; i < m->nx; i++) {
        double s = (double)i / (double)(m->nx - 1);
        T(i, 0) = m->edge[EDGE_BOTTOM][0] + s * (m->edge[EDGE_BOTTOM][1] - m->edge[EDGE_BOTTOM][0]);
        T(i, m->ny - 1) = m->edge[EDGE_TOP][0] + s * (m->edge[EDGE_TOP][1] - m->edge[EDGE_TOP][0]);
    }
    for (j = 1; j < m->ny - 1; j++) {
        double s = (double)j / (double)(m->ny - 1);
        T(0, j) = m->edge[EDGE_LEFT][0] + s * (m->edge[EDGE_LEFT][1] - m->edge[EDGE_LEFT][0]);
        T(m->nx - 1, j) = m->edge[EDGE_RIGHT][0] + s * (m->edge[EDGE_RIGHT][1] - m->edge[EDGE_RIGHT][0]);
    }
    /* corners: the mean of their two edges (they take no part in the solve) */
    T(0, 0) = (m->edge[EDGE_BOTTOM][0] + m->edge[EDGE_LEFT][0]) / 2;
    T(m->nx - 1, 0) = (m->edge[EDGE_BOTTOM][1] + m->edge[EDGE_RIGHT][0]) / 2;
    T(0, m->ny - 1) = (m->edge[EDGE_TOP][0] + m->edge[EDGE_LEFT][1]) / 2;
    T(m->nx - 1, m->ny - 1) = (m->edge[EDGE_TOP][1] + m->edge[EDGE_RIGHT][1]) / 2;
}

/* One SOR sweep; returns max |residual| before the update. */
static double sweep(const heat_model* m, double* t)
{
    double worst = 0;
    long i, j;
    for (j = 1; j < m->ny - 1; j++) {
        for (i = 1; i < m->nx - 1; i++) {
            double r = (T(i - 1, j) + T(i + 1, j) + T(i, j - 1) + T(i, j + 1)) / 4 - T(i, j);
            T(i, j) += m->omega * r;
            if (fabs(r) > worst) worst = fabs(r);
        }
    }
    return worst;
}

/* How far the solve is, in hundredths of a percent: the larger of the
** residual's way down (on a log scale) from the first sweep to the tolerance,
** and the share of the iterations used. */
static int32_t how_far(const heat_model* m, double first, double residual, long iteration)
{
    double p = (double)iteration / (double)m->max_iterations;
    if (first > m->tolerance && residual > 0) {
        double q = log(first / residual) / log(first / m->tolerance);
        if (q > p) p = q;
    }
    if (residual <= m->tolerance || p > 1) p = 1;
    if (p < 0) p = 0;
    return (int32_t)(p * 10000);
}

static double center(const heat_model* m, const double* t)
{
    long i0 = (m->nx - 1) / 2, i1 = m->nx / 2, j0 = (m->ny - 1) / 2, j1 = m->ny / 2;
    return (T(i0, j0) + T(i1, j0) + T(i0, j1) + T(i1, j1)) / 4;
}

static int write_results(const char* workdir, const heat_model* m, const double* t, long iterations,
                         double residual, int converged)
{
    char path[HEAT_PATH_MAX];
    double lo = t[0], hi = t[0];
    long i, j;
    FILE* f;
    int ok;

    snprintf(path, sizeof path, "%s/result.csv", workdir);
    f = fopen(path, "w");
    if (f == NULL) return 0;
    ok = fprintf(f, "i,j,temperature\n") > 0;
    for (j = 0; j < m->ny && ok; j++) {
        for (i = 0; i < m->nx && ok; i++) {
            double v = T(i, j);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
            ok = fprintf(f, "%ld,%ld,%.17g\n", i, j, v) > 0;
        }
    }
    ok = fclose(f) == 0 && ok;
    if (!ok) return 0;

    snprintf(path, sizeof path, "%s/summary.txt", workdir);
    f = fopen(path, "w");
    if (f == NULL) return 0;
    ok = fprintf(f,
                 "solver %s\ngrid %ld %ld\nconverged %s\niterations %ld\nresidual %.6g\n"
                 "max_temperature %.17g\nmin_temperature %.17g\ncenter_temperature %.17g\n",
                 HEAT_NAME, m->nx, m->ny, converged ? "yes" : "no", iterations, residual, hi, lo,
                 center(m, t)) > 0;
    return fclose(f) == 0 && ok;
}

/* ---- the plugin's exports ----------------------------------------------- */

ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_abi_version(void)
{
    return ISCSDK_SOLVER_PLUGIN_ABI_VERSION;
}

ISCSDK_SOLVER_EXPORT const char* ISCSDK_SOLVER_CALL iscsdk_solver_name(void)
{
    return HEAT_NAME;
}

ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_solve(const char* workdir, const char* args_json,
                                                                   iscsdk_solver_progress_fn progress,
                                                                   void* user_data)
{
    heat_run run;
    heat_model m;
    char name[256], path[HEAT_PATH_MAX], why[512];
    double* t;
    double first = 0, residual = 0;
    long it = 0, check_every, i, j;
    int status, converged = 0;

    run.progress = progress;
    run.user_data = user_data;
    run.canceled = 0;

    if (input_name(args_json, name, sizeof name) != 0) {
        report(&run, ISCSDK_SOLVER_PROGRESS_UNKNOWN, "bad args_json: \"input\" must be a file name in workdir");
        return run.canceled ? ISCSDK_SOLVER_CANCELED : HEAT_E_ARGS;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", workdir, name) >= sizeof path) {
        report(&run, ISCSDK_SOLVER_PROGRESS_UNKNOWN, "workdir path too long");
        return run.canceled ? ISCSDK_SOLVER_CANCELED : HEAT_E_ARGS;
    }
    status = read_model(path, &m, why, sizeof why);
    if (status != 0) {
        char line[sizeof name + sizeof why + 2];
        snprintf(line, sizeof line, "%s: %s", name, why);
        report(&run, ISCSDK_SOLVER_PROGRESS_UNKNOWN, line);
        return run.canceled ? ISCSDK_SOLVER_CANCELED : status;
    }
    t = (double*)calloc((size_t)m.nx * (size_t)m.ny, sizeof *t);
    if (t == NULL) {
        report(&run, ISCSDK_SOLVER_PROGRESS_UNKNOWN, "out of memory");
        return run.canceled ? ISCSDK_SOLVER_CANCELED : HEAT_E_MEMORY;
    }
    check_every = HEAT_CHECK_POINTS / (m.nx * m.ny);
    if (check_every < 1) check_every = 1;
    if (check_every > HEAT_CHECK_MAX) check_every = HEAT_CHECK_MAX;
    set_edges(&m, t);
    /* start the interior at the mean of the edges: fewer sweeps than from 0 */
    {
        double mean = (m.edge[EDGE_TOP][0] + m.edge[EDGE_TOP][1] + m.edge[EDGE_BOTTOM][0] + m.edge[EDGE_BOTTOM][1] +
                       m.edge[EDGE_LEFT][0] + m.edge[EDGE_LEFT][1] + m.edge[EDGE_RIGHT][0] + m.edge[EDGE_RIGHT][1]) / 8;
        for (j = 1; j < m.ny - 1; j++) {
            for (i = 1; i < m.nx - 1; i++) {
                t[(size_t)j * (size_t)m.nx + (size_t)i] = mean;
            }
        }
    }
    snprintf(why, sizeof why, "heat: %ld x %ld grid, omega %.4f", m.nx, m.ny, m.omega);
    if (report(&run, 0, why)) goto canceled;

    while (it < m.max_iterations) {
        residual = sweep(&m, t);
        it++;
        if (it == 1) first = residual;
        if (residual <= m.tolerance) {
            converged = 1;
            break;
        }
        if (it % m.log_every == 0) {
            if (report_iteration(&run, how_far(&m, first, residual, it), "iteration", it, residual)) goto canceled;
        } else if (it % check_every == 0) {
            if (report(&run, how_far(&m, first, residual, it), NULL)) goto canceled;
        }
    }
    if (report_iteration(&run, 10000, converged ? "converged at iteration" : "no convergence at iteration", it,
                         residual)) {
        goto canceled;
    }
    if (!write_results(workdir, &m, t, it, residual, converged)) {
        free(t);
        report(&run, 10000, "cannot write result.csv or summary.txt in workdir");
        return run.canceled ? ISCSDK_SOLVER_CANCELED : HEAT_E_WRITE;
    }
    free(t);
    return converged ? ISCSDK_SOLVER_OK : HEAT_E_DIVERGED;

canceled:
    free(t);
    return ISCSDK_SOLVER_CANCELED;
}
