/*
** heat_test.c: the tests of the example heat solver plugin. It includes
** heat.c itself and calls iscsdk_solver_solve() directly (no dlopen), the way
** a worker would: known solutions, progress, cancellation and bad input.
**
** Usage: heat_test SCRATCH_DIR (an existing, empty directory). Prints one
** line per failed check and "N passed, M failed"; exits 0 when none failed.
** Built and run by heat_test.go (go test ./examples/solver-plugin).
*/
#define _POSIX_C_SOURCE 200809L

#include "heat.c"

#include <sys/stat.h>

static int passed, failed;

static int check_(int ok, int line, const char* expr)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("check failed at heat_test.c:%d: %s\n", line, expr);
    }
    return ok;
}

#define CHECK(cond) check_((cond) != 0, __LINE__, #cond)

/* ---- a recording progress callback ---- */

typedef struct recorder {
    int calls;
    int lines;
    int stop_at;             /* return non-zero on this call (1-based); 0: never */
    int32_t first, last;     /* first and last known progress */
    int went_down;           /* progress ever decreased */
    int out_of_range;        /* progress outside -1 and 0..10000 */
    char last_line[512];
} recorder;

static int32_t ISCSDK_SOLVER_CALL record(void* user_data, int32_t progress, const char* log_line)
{
    recorder* r = (recorder*)user_data;
    r->calls++;
    if (progress != ISCSDK_SOLVER_PROGRESS_UNKNOWN) {
        if (progress < 0 || progress > 10000) r->out_of_range = 1;
        if (r->first < 0) r->first = progress;
        if (r->last >= 0 && progress < r->last) r->went_down = 1;
        r->last = progress;
    }
    if (log_line != NULL) {
        r->lines++;
        snprintf(r->last_line, sizeof r->last_line, "%s", log_line);
    }
    return r->stop_at != 0 && r->calls >= r->stop_at;
}

static recorder new_recorder(int stop_at)
{
    recorder r;
    memset(&r, 0, sizeof r);
    r.stop_at = stop_at;
    r.first = r.last = -1;
    return r;
}

/* ---- files ---- */

static const char* scratch;

/* A fresh directory scratch/name holding model.heat with text (none if NULL). */
static const char* workdir(const char* name, const char* text)
{
    static char dir[1024];
    char path[1100];
    FILE* f;
    snprintf(dir, sizeof dir, "%s/%s", scratch, name);
    if (mkdir(dir, 0700) != 0) {
        printf("mkdir %s: %s\n", dir, strerror(errno));
        exit(2);
    }
    if (text != NULL) {
        snprintf(path, sizeof path, "%s/model.heat", dir);
        f = fopen(path, "w");
        if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
            printf("write %s failed\n", path);
            exit(2);
        }
    }
    return dir;
}

static int exists(const char* dir, const char* name)
{
    char path[1100];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* The value of key in dir/summary.txt, as a number; NAN if absent. */
static double summary(const char* dir, const char* key)
{
    char path[1100], line[256];
    size_t n = strlen(key);
    double v = NAN;
    FILE* f;
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    f = fopen(path, "r");
    if (f == NULL) return NAN;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, n) == 0 && line[n] == ' ') {
            v = strtod(line + n + 1, NULL);
        }
    }
    fclose(f);
    return v;
}

/* dir/summary.txt has this line. */
static int summary_has(const char* dir, const char* want)
{
    char path[1100], line[256];
    int found = 0;
    FILE* f;
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    f = fopen(path, "r");
    if (f == NULL) return 0;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        found = strcmp(line, want) == 0;
    }
    fclose(f);
    return found;
}

/* The largest |T(i,j) - want(i,j)| over dir/result.csv, counting its points
** into *points; HUGE_VAL if the file is unreadable or malformed. */
static double field_error(const char* dir, double (*want)(long i, long j), long* points)
{
    char path[1100], line[256];
    double worst = 0;
    FILE* f;
    *points = 0;
    snprintf(path, sizeof path, "%s/result.csv", dir);
    f = fopen(path, "r");
    if (f == NULL || fgets(line, sizeof line, f) == NULL || strcmp(line, "i,j,temperature\n") != 0) {
        if (f != NULL) fclose(f);
        return HUGE_VAL;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        long i, j;
        double t;
        if (sscanf(line, "%ld,%ld,%lf", &i, &j, &t) != 3) {
            worst = HUGE_VAL;
            break;
        }
        if (fabs(t - want(i, j)) > worst) worst = fabs(t - want(i, j));
        (*points)++;
    }
    fclose(f);
    return worst;
}

/* ---- the known solutions ---- */

#define LINEAR_NX 21
#define LINEAR_NY 11

static double uniform(long i, long j)
{
    (void)i;
    (void)j;
    return 37.5;
}

/* 100 on the left edge, 0 on the right, linear in x: harmonic, so it is the solution */
static double linear(long i, long j)
{
    (void)j;
    return 100.0 * (1.0 - (double)i / (LINEAR_NX - 1));
}

static void test_uniform(void)
{
    recorder r = new_recorder(0);
    long points;
    const char* dir = workdir("uniform", "nx 12\nny 9\ntop 37.5\nbottom 37.5\nleft 37.5\nright 37.5\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == ISCSDK_SOLVER_OK);
    CHECK(field_error(dir, uniform, &points) < 1e-9);
    CHECK(points == 12 * 9);
    CHECK(summary_has(dir, "converged yes\n"));
    CHECK(summary(dir, "max_temperature") == 37.5);
    CHECK(summary(dir, "min_temperature") == 37.5);
}

static void test_linear(void)
{
    recorder r = new_recorder(0);
    long points;
    const char* dir = workdir("linear", "# a linear field\n"
                                        "nx 21\nny 11\n"
                                        "left 100\nright 0\n"
                                        "top 100 0   # from left to right\n"
                                        "bottom 100 0\n"
                                        "tolerance 1e-11\nlog_every 50\n");
    CHECK(iscsdk_solver_solve(dir, "{\"input\": \"model.heat\"}", record, &r) == ISCSDK_SOLVER_OK);
    CHECK(field_error(dir, linear, &points) < 1e-8);
    CHECK(points == LINEAR_NX * LINEAR_NY);
    CHECK(fabs(summary(dir, "center_temperature") - 50) < 1e-8);
    CHECK(summary(dir, "iterations") > 1);
    CHECK(summary(dir, "residual") <= 1e-11);

    /* progress: called, never down, in range, ending at 100 %, with log lines */
    CHECK(r.calls > 3);
    CHECK(r.lines >= 2);
    CHECK(!r.went_down);
    CHECK(!r.out_of_range);
    CHECK(r.first == 0);
    CHECK(r.last == 10000);
    CHECK(strstr(r.last_line, "converged at iteration") != NULL);
}

/* One hot edge of a square: the centre is a quarter of its temperature. */
static void test_square(void)
{
    recorder r = new_recorder(0);
    const char* dir = workdir("square", "nx 31\nny 31\ntop 100\nbottom 0\nleft 0\nright 0\ntolerance 1e-10\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == ISCSDK_SOLVER_OK);
    CHECK(fabs(summary(dir, "center_temperature") - 25) < 1e-7);
    CHECK(summary(dir, "max_temperature") == 100);
    CHECK(summary(dir, "min_temperature") == 0);
}

static void test_cancel(void)
{
    int k;
    for (k = 1; k <= 4; k++) {
        char name[32];
        const char* dir;
        recorder r = new_recorder(k);
        snprintf(name, sizeof name, "cancel%d", k);
        dir = workdir(name, "nx 200\nny 200\ntop 1\nbottom 0\nleft 0\nright 0\n"
                            "tolerance 1e-14\nmax_iterations 1000000\nlog_every 2\n");
        CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == ISCSDK_SOLVER_CANCELED);
        CHECK(r.calls == k); /* not called again once asked to stop */
        CHECK(!exists(dir, "summary.txt"));
        CHECK(!exists(dir, "result.csv"));
    }
}

static void test_bad_input(void)
{
    recorder r = new_recorder(0);
    const char* dir = workdir("missing", NULL);
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_READ);
    CHECK(strstr(r.last_line, "model.heat: cannot open") != NULL);

    r = new_recorder(0);
    dir = workdir("garbage", "nx 10\nny ten\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_INPUT);
    CHECK(strstr(r.last_line, "line 2") != NULL);

    r = new_recorder(0);
    dir = workdir("unknown", "nx 10\nny 10\ntop 1\nbottom 1\nleft 1\nright 1\ncolour red\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_INPUT);

    r = new_recorder(0);
    dir = workdir("noedge", "nx 10\nny 10\ntop 1\nbottom 1\nleft 1\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_INPUT);
    CHECK(strstr(r.last_line, "right") != NULL);

    r = new_recorder(0);
    dir = workdir("small", "nx 2\nny 10\ntop 1\nbottom 1\nleft 1\nright 1\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_INPUT);

    r = new_recorder(0);
    dir = workdir("omega", "nx 5\nny 5\ntop 1\nbottom 1\nleft 1\nright 1\nomega 2\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_INPUT);

    r = new_recorder(0);
    dir = workdir("args", "nx 5\nny 5\ntop 1\nbottom 1\nleft 1\nright 1\n");
    CHECK(iscsdk_solver_solve(dir, "{\"input\": \"../model.heat\"}", record, &r) == HEAT_E_ARGS);
    CHECK(iscsdk_solver_solve(dir, "{\"input\": 7}", record, &r) == HEAT_E_ARGS);
    CHECK(iscsdk_solver_solve(dir, "{\"input\": \"other.heat\"}", record, &r) == HEAT_E_READ);

    /* no convergence: a failure, but the field and summary are written */
    r = new_recorder(0);
    dir = workdir("diverged", "nx 50\nny 50\ntop 1\nbottom 0\nleft 0\nright 0\nmax_iterations 3\n");
    CHECK(iscsdk_solver_solve(dir, "{}", record, &r) == HEAT_E_DIVERGED);
    CHECK(summary(dir, "iterations") == 3);
    CHECK(summary_has(dir, "converged no\n"));
    CHECK(strstr(r.last_line, "no convergence at iteration 3") != NULL);
    CHECK(r.last == 10000);
}

static void test_exports(void)
{
    CHECK(iscsdk_solver_abi_version() == ISCSDK_SOLVER_PLUGIN_ABI_VERSION);
    CHECK(strcmp(iscsdk_solver_name(), "heat 1.0") == 0);
}

int main(int argc, char** argv)
{
    if (argc != 2) {
        printf("usage: heat_test SCRATCH_DIR\n");
        return 2;
    }
    scratch = argv[1];
    test_exports();
    test_uniform();
    test_linear();
    test_square();
    test_cancel();
    test_bad_input();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
