/*
 * nbody — the Sun and the four giant planets, integrated with a fixed step.
 *
 * Pairwise gravity in double precision: f64 multiply, add, divide and sqrt,
 * with struct field loads and stores. Energy is printed before and after so a
 * reader can check the physics (about -0.169075164 at the start); the checksum
 * folds in the final state bit for bit.
 *
 * usage: nbody [STEPS]   (default 3000000)
 */
#include <math.h>

#include "bench_common.h"

#define BODY_COUNT 5
#define SOLAR_MASS (4.0 * 3.141592653589793 * 3.141592653589793)
#define DAYS_PER_YEAR 365.24
#define TIME_STEP 0.01

typedef struct body {
    double position[3];
    double velocity[3];
    double mass;
} body;

/* Positions in AU, velocities in AU/day (scaled to AU/year below), masses in
 * solar masses: the usual published starting state for this benchmark. */
static body initial_bodies[BODY_COUNT] = {
    { {0, 0, 0}, {0, 0, 0}, 1.0 },
    { {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01},
      {1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05},
      9.54791938424326609e-04 },
    { {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01},
      {-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05},
      2.85885980666130812e-04 },
    { {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01},
      {2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05},
      4.36624404335156298e-05 },
    { {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01},
      {2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05},
      5.15138902046611451e-05 },
};

static void convert_units(body *bodies)
{
    for (int i = 0; i < BODY_COUNT; i++) {
        for (int axis = 0; axis < 3; axis++)
            bodies[i].velocity[axis] *= DAYS_PER_YEAR;
        bodies[i].mass *= SOLAR_MASS;
    }
}

/* Give the Sun the momentum that makes the system's total zero, so the
 * centre of mass stays put. */
static void cancel_momentum(body *bodies)
{
    double momentum[3] = {0, 0, 0};
    for (int i = 0; i < BODY_COUNT; i++)
        for (int axis = 0; axis < 3; axis++)
            momentum[axis] += bodies[i].velocity[axis] * bodies[i].mass;
    for (int axis = 0; axis < 3; axis++)
        bodies[0].velocity[axis] = -momentum[axis] / SOLAR_MASS;
}

static double total_energy(const body *bodies)
{
    double energy = 0.0;
    for (int i = 0; i < BODY_COUNT; i++) {
        const double *v = bodies[i].velocity;
        energy += 0.5 * bodies[i].mass * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for (int j = i + 1; j < BODY_COUNT; j++) {
            double dx = bodies[i].position[0] - bodies[j].position[0];
            double dy = bodies[i].position[1] - bodies[j].position[1];
            double dz = bodies[i].position[2] - bodies[j].position[2];
            energy -= bodies[i].mass * bodies[j].mass / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return energy;
}

/* One step: velocities from every pair's attraction, then positions. */
static void advance(body *bodies, double dt)
{
    for (int i = 0; i < BODY_COUNT; i++) {
        body *a = &bodies[i];
        for (int j = i + 1; j < BODY_COUNT; j++) {
            body *b = &bodies[j];
            double dx = a->position[0] - b->position[0];
            double dy = a->position[1] - b->position[1];
            double dz = a->position[2] - b->position[2];
            double distance_squared = dx * dx + dy * dy + dz * dz;
            double distance = sqrt(distance_squared);
            double impulse = dt / (distance_squared * distance);
            double pull_on_a = b->mass * impulse, pull_on_b = a->mass * impulse;
            a->velocity[0] -= dx * pull_on_a, b->velocity[0] += dx * pull_on_b;
            a->velocity[1] -= dy * pull_on_a, b->velocity[1] += dy * pull_on_b;
            a->velocity[2] -= dz * pull_on_a, b->velocity[2] += dz * pull_on_b;
        }
    }
    for (int i = 0; i < BODY_COUNT; i++)
        for (int axis = 0; axis < 3; axis++)
            bodies[i].position[axis] += dt * bodies[i].velocity[axis];
}

int main(int argc, char **argv)
{
    uint32_t steps = bench_size_arg(argc, argv, 3000000);
    body bodies[BODY_COUNT];
    memcpy(bodies, initial_bodies, sizeof bodies);
    convert_units(bodies);
    cancel_momentum(bodies);

    printf("energy before: %.9f\n", total_energy(bodies));
    for (uint32_t step = 0; step < steps; step++)
        advance(bodies, TIME_STEP);
    double energy = total_energy(bodies);
    printf("energy after %" PRIu32 " steps: %.9f\n", steps, energy);

    uint64_t checksum = bench_hash_double(BENCH_HASH_SEED, energy);
    for (int i = 0; i < BODY_COUNT; i++)
        for (int axis = 0; axis < 3; axis++) {
            checksum = bench_hash_double(checksum, bodies[i].position[axis]);
            checksum = bench_hash_double(checksum, bodies[i].velocity[axis]);
        }
    bench_print_checksum(checksum);
    return 0;
}
