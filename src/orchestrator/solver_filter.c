/*
 * solver_filter.c — which devices can run a step (see solver.h, step 1).
 *
 * The import check is the only costly part: a fleet of 10,000 devices lists about
 * 80 interface names each. The names the steps need (each import both bare and as
 * "module.name") go into a small open-addressing table; each device's list is hashed
 * once into a bitset of the needed names it offers, and a step's check is then a
 * few bit tests per import. Devices that share one interface array (a fleet of one
 * model) share the bitset work.
 */
#include "orchestrator/solver_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct name_slot {
    const char *text;       /* NULL: empty slot */
    size_t length;
    uint64_t hash;
    size_t id;
} name_slot;

typedef struct import_ids {
    size_t bare, qualified;
} import_ids;

struct solver_filter {
    const solver_problem *problem;
    name_slot *slots;
    size_t slot_mask;
    char **owned;           /* the "module.name" strings built here */
    size_t owned_count;
    size_t name_count;
    size_t words;           /* bitset words per device */
    uint64_t *offered;      /* [device * words] */
    import_ids **step_imports;  /* [step][import] */
};

/* A hash of a name from its length and its first and last eight bytes: O(1) after
 * strlen, which matters because most of a device's 80 names are looked up only to
 * miss. Equal hashes are confirmed with memcmp. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t head = 0, tail = 0;
    size_t k = n < 8 ? n : 8;
    memcpy(&head, s, k);
    memcpy(&tail, s + n - k, k);
    uint64_t h = (head ^ (tail * 0x9E3779B97F4A7C15ull)) + n * 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return h;
}

static const name_slot *lookup(const solver_filter *f, const char *s, size_t n, uint64_t h)
{
    for (size_t i = h & f->slot_mask;; i = (i + 1) & f->slot_mask) {
        const name_slot *slot = &f->slots[i];
        if (!slot->text)
            return NULL;
        if (slot->hash == h && slot->length == n && !memcmp(slot->text, s, n))
            return slot;
    }
}

static size_t intern(solver_filter *f, const char *s)
{
    size_t n = strlen(s);
    uint64_t h = hash_bytes(s, n);
    const name_slot *found = lookup(f, s, n, h);
    if (found)
        return found->id;
    size_t i = h & f->slot_mask;
    while (f->slots[i].text)
        i = (i + 1) & f->slot_mask;
    f->slots[i] = (name_slot){s, n, h, f->name_count};
    return f->name_count++;
}

static char *qualified_name(const solver_import *import)
{
    size_t m = strlen(import->module), n = strlen(import->name);
    char *s = malloc(m + n + 2);
    if (!s)
        return NULL;
    memcpy(s, import->module, m);
    s[m] = '.';
    memcpy(s + m + 1, import->name, n + 1);
    return s;
}

static bool build_table(solver_filter *f)
{
    const solver_problem *p = f->problem;
    size_t imports = 0;
    for (size_t s = 0; s < p->step_count; s++)
        imports += p->steps[s].import_count;
    size_t slots = 16;
    while (slots < 4 * (2 * imports + 1))
        slots <<= 1;
    f->slots = calloc(slots, sizeof *f->slots);
    f->slot_mask = slots - 1;
    f->owned = calloc(imports + 1, sizeof *f->owned);
    f->step_imports = calloc(p->step_count + 1, sizeof *f->step_imports);
    if (!f->slots || !f->owned || !f->step_imports)
        return false;
    for (size_t s = 0; s < p->step_count; s++) {
        const solver_step *step = &p->steps[s];
        f->step_imports[s] = calloc(step->import_count + 1, sizeof **f->step_imports);
        if (!f->step_imports[s])
            return false;
        for (size_t i = 0; i < step->import_count; i++) {
            char *q = qualified_name(&step->imports[i]);
            if (!q)
                return false;
            f->owned[f->owned_count++] = q;
            f->step_imports[s][i].bare = intern(f, step->imports[i].name);
            f->step_imports[s][i].qualified = intern(f, q);
        }
    }
    return true;
}

static void mark_offered(solver_filter *f, const solver_device *d, uint64_t *bits)
{
    for (size_t i = 0; i < d->interface_count; i++) {
        const char *s = d->interfaces[i];
        if (!s)
            continue;
        size_t n = strlen(s);
        const name_slot *slot = lookup(f, s, n, hash_bytes(s, n));
        if (slot)
            bits[slot->id / 64] |= 1ull << (slot->id % 64);
    }
}

solver_filter *solver_filter_new(const solver_problem *problem)
{
    solver_filter *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->problem = problem;
    if (!build_table(f)) {
        solver_filter_free(f);
        return NULL;
    }
    f->words = f->name_count / 64 + 1;
    f->offered = calloc(problem->device_count * f->words + 1, sizeof *f->offered);
    if (!f->offered) {
        solver_filter_free(f);
        return NULL;
    }
    if (f->name_count == 0)
        return f;
    for (size_t d = 0; d < problem->device_count; d++) {
        const solver_device *device = &problem->devices[d];
        uint64_t *bits = f->offered + d * f->words;
        if (d > 0 && device->interfaces == problem->devices[d - 1].interfaces &&
            device->interface_count == problem->devices[d - 1].interface_count)
            memcpy(bits, bits - f->words, f->words * sizeof *bits);
        else
            mark_offered(f, device, bits);
    }
    return f;
}

void solver_filter_free(solver_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->owned_count; i++)
        free(f->owned[i]);
    if (f->step_imports)
        for (size_t s = 0; s < f->problem->step_count; s++)
            free(f->step_imports[s]);
    free(f->step_imports);
    free(f->owned);
    free(f->slots);
    free(f->offered);
    free(f);
}

/* ---- the checks that do not involve imports */

static bool has_capability(const solver_device *d, const char *name)
{
    for (size_t i = 0; i < d->capability_count; i++)
        if (d->capabilities[i] && !strcmp(d->capabilities[i], name))
            return true;
    return false;
}

/* Free memory: what the latest health report leaves of the total. */
static uint64_t free_memory(const solver_device *d)
{
    if (d->memory_usage < 0 || d->memory_usage > 1)
        return d->memory_total_bytes;
    return (uint64_t)((double)d->memory_total_bytes * (1.0 - d->memory_usage));
}

/* Everything but the imports; false when the device is rejected (j filled). */
static bool judge_without_imports(const solver_problem *p, size_t s, size_t dev,
                                  solver_judgement *j)
{
    const solver_step *step = &p->steps[s];
    const solver_device *d = &p->devices[dev];
    *j = (solver_judgement){.verdict = SOLVER_CHOSEN, .chain_cost = __builtin_huge_val()};
    if (step->pinned_device && strcmp(step->pinned_device, d->id)) {
        j->verdict = SOLVER_REJECT_NOT_PINNED;
        return false;
    }
    if ((step->leaving_device && !strcmp(step->leaving_device, d->id)) ||
        (d->leaving && !step->pinned_device)) {
        j->verdict = SOLVER_REJECT_MOVING_AWAY;
        return false;
    }
    if (d->blacklisted) {
        j->verdict = SOLVER_REJECT_BLACKLISTED;
        return false;
    }
    if (!d->state || strcmp(d->state, "active")) {
        j->verdict = SOLVER_REJECT_NOT_ACTIVE;
        return false;
    }
    if (d->declares_capabilities)
        for (size_t c = 0; c < step->capability_count; c++)
            if (!has_capability(d, step->capabilities[c])) {
                j->verdict = SOLVER_REJECT_MISSING_CAPABILITY;
                j->missing = c;
                return false;
            }
    if (step->min_memory_bytes && d->memory_total_bytes &&
        free_memory(d) < step->min_memory_bytes) {
        j->verdict = SOLVER_REJECT_MEMORY;
        return false;
    }
    return true;
}

static bool bit(const uint64_t *bits, size_t id)
{
    return (bits[id / 64] >> (id % 64)) & 1;
}

void solver_filter_judge(const solver_filter *f, size_t s, size_t dev, solver_judgement *j)
{
    const solver_problem *p = f->problem;
    if (!judge_without_imports(p, s, dev, j))
        return;
    const uint64_t *bits = f->offered + dev * f->words;
    const import_ids *ids = f->step_imports[s];
    for (size_t i = 0; i < p->steps[s].import_count; i++) {
        if (bit(bits, ids[i].bare) || bit(bits, ids[i].qualified))
            continue;
        if (j->missing_count++ == 0) {
            j->verdict = SOLVER_REJECT_MISSING_IMPORT;
            j->missing = i;
        }
    }
}

static bool offers(const solver_device *d, const solver_import *import)
{
    size_t m = strlen(import->module);
    for (size_t i = 0; i < d->interface_count; i++) {
        const char *s = d->interfaces[i];
        if (!s)
            continue;
        if (!strcmp(s, import->name))
            return true;
        if (!strncmp(s, import->module, m) && s[m] == '.' && !strcmp(s + m + 1, import->name))
            return true;
    }
    return false;
}

void solver_filter_judge_one(const solver_problem *p, size_t s, size_t dev, solver_judgement *j)
{
    if (!judge_without_imports(p, s, dev, j))
        return;
    const solver_step *step = &p->steps[s];
    for (size_t i = 0; i < step->import_count; i++) {
        if (offers(&p->devices[dev], &step->imports[i]))
            continue;
        if (j->missing_count++ == 0) {
            j->verdict = SOLVER_REJECT_MISSING_IMPORT;
            j->missing = i;
        }
    }
}

/* ---- sentences */

static void format_bytes(uint64_t bytes, char *out, size_t size)
{
    if (bytes >= (1ull << 30))
        snprintf(out, size, "%.1f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20))
        snprintf(out, size, "%.1f MiB", (double)bytes / (1ull << 20));
    else
        snprintf(out, size, "%llu KiB", (unsigned long long)((bytes + 1023) >> 10));
}

const char *solver_device_label(const solver_device *d)
{
    return d->name && *d->name ? d->name : d->id;
}

const char *solver_verdict_name(solver_verdict v)
{
    switch (v) {
    case SOLVER_CHOSEN: return "chosen";
    case SOLVER_SCORED_LOWER: return "scored lower";
    case SOLVER_NOT_CONSIDERED: return "not considered";
    case SOLVER_REJECT_NOT_PINNED: return "rejected: not the named device";
    case SOLVER_REJECT_MOVING_AWAY: return "rejected: the step is moving away from it";
    case SOLVER_REJECT_BLACKLISTED: return "rejected: blacklisted";
    case SOLVER_REJECT_NOT_ACTIVE: return "rejected: not active";
    case SOLVER_REJECT_MISSING_IMPORT: return "rejected: missing import";
    case SOLVER_REJECT_MISSING_CAPABILITY: return "rejected: missing capability";
    case SOLVER_REJECT_MEMORY: return "rejected: not enough memory";
    }
    return "unknown";
}

void solver_rejection_sentence(const solver_problem *p, size_t s, size_t dev,
                               const solver_judgement *j, char *out, size_t out_size)
{
    const solver_step *step = &p->steps[s];
    const solver_device *d = &p->devices[dev];
    switch (j->verdict) {
    case SOLVER_REJECT_NOT_PINNED:
        snprintf(out, out_size, "the manifest names device '%s' for this step",
                 step->pinned_device);
        return;
    case SOLVER_REJECT_MOVING_AWAY:
        snprintf(out, out_size, "%s", d->leaving ? "it is leaving (being drained)"
                                                  : "the step is being migrated away from it");
        return;
    case SOLVER_REJECT_BLACKLISTED:
        snprintf(out, out_size, "it is blacklisted");
        return;
    case SOLVER_REJECT_NOT_ACTIVE:
        snprintf(out, out_size, "it is %s, not active", d->state ? d->state : "of unknown state");
        return;
    case SOLVER_REJECT_MISSING_IMPORT: {
        const solver_import *import = &step->imports[j->missing];
        if (j->missing_count > 1)
            snprintf(out, out_size,
                     "it does not offer the import %s.%s that module '%s' needs "
                     "(and %zu more)", import->module, import->name, step->module,
                     j->missing_count - 1);
        else
            snprintf(out, out_size, "it does not offer the import %s.%s that module '%s' needs",
                     import->module, import->name, step->module);
        return;
    }
    case SOLVER_REJECT_MISSING_CAPABILITY:
        snprintf(out, out_size, "it does not declare the capability '%s' that module '%s' needs",
                 step->capabilities[j->missing], step->module);
        return;
    case SOLVER_REJECT_MEMORY: {
        char have[32], need[32];
        format_bytes(free_memory(d), have, sizeof have);
        format_bytes(step->min_memory_bytes, need, sizeof need);
        snprintf(out, out_size, "it has %s of memory free, module '%s' needs at least %s", have,
                 step->module, need);
        return;
    }
    default:
        snprintf(out, out_size, "it can run this step");
        return;
    }
}

bool solver_device_fits(const solver_problem *p, size_t s, size_t dev, char *why,
                        size_t why_size)
{
    solver_judgement j;
    solver_filter_judge_one(p, s, dev, &j);
    if (solver_verdict_passes(j.verdict)) {
        if (why_size)
            why[0] = '\0';
        return true;
    }
    solver_rejection_sentence(p, s, dev, &j, why, why_size);
    return false;
}
