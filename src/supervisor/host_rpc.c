/*
 * host_rpc.c — communication.rpcCall(namePtr, nameLen, dataPtr, dataLen): sends bytes
 * from the module's memory to a function on another device, as the Python reference
 * does: the name is looked up in remote_functions.json ({"<name>": {"host": "<url>"}})
 * and the bytes are POSTed as the multipart field "img". The file is read at every
 * call, so an operator can repoint a name without redeploying.
 *
 * Any failure (no file, unknown name, no answer, an HTTP error status) traps the call
 * with the reason: the module's caller learns the data did not arrive.
 */
#include "supervisor/host_guest.h"
#include "base/http_client.h"
#include "base/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference's timeout. The call cannot be interrupted while it waits. */
#define RPC_TIMEOUT_MS 120000
#define RPC_NAME_MAX 256

#define RPC_TRAP(call, fmt, ...) \
    wasm_host_trap(call, WASM_TRAP_HOST, "communication.rpcCall: " fmt, ##__VA_ARGS__)

/* The URL registered for name, malloc'ed, or NULL after a trap. */
static char *lookup_url(wasm_host_call *call, const host_env *env, const char *name)
{
    if (!env || !env->remote_functions) {
        RPC_TRAP(call, "no remote functions are configured on this device "
                       "(give the supervisor a remote_functions.json)");
        return NULL;
    }
    json_error_t jerr;
    json_t *table = json_load_file(env->remote_functions, 0, &jerr);
    if (!table) {
        RPC_TRAP(call, "cannot read %s: %s", env->remote_functions, jerr.text);
        return NULL;
    }
    const char *url = json_string_value(json_object_get(json_object_get(table, name), "host"));
    char *copy = url ? strdup(url) : NULL;
    json_decref(table);
    if (!url)
        RPC_TRAP(call, "no remote function \"%s\" with a \"host\" URL in %s", name,
                 env->remote_functions);
    else if (!copy)
        RPC_TRAP(call, "out of memory");
    return copy;
}

int host_rpc_call(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)results;
    host_env *env = user;
    uint32_t name_len = (uint32_t)args[1], data_len = (uint32_t)args[3];
    if (name_len == 0 || name_len > RPC_NAME_MAX)
        return RPC_TRAP(call, "the function name must be 1 to %d bytes, got %u", RPC_NAME_MAX,
                        name_len);
    const uint8_t *name_bytes = host_guest_bytes(call, (uint32_t)args[0], name_len,
                                                 "communication.rpcCall: the function name");
    const uint8_t *data = name_bytes ? host_guest_bytes(call, (uint32_t)args[2], data_len,
                                                        "communication.rpcCall: the data")
                                     : NULL;
    if (!data)
        return -1;
    char name[RPC_NAME_MAX + 1];
    memcpy(name, name_bytes, name_len);
    name[name_len] = '\0';
    if (strlen(name) != name_len)
        return RPC_TRAP(call, "the function name holds a NUL byte");
    char *url = lookup_url(call, env, name);
    if (!url)
        return -1;

    http_part part = {.field = "img", .data = data, .size = data_len, .filename = "img",
                      .content_type = "application/octet-stream"};
    http_result res = {0};
    bool answered = http_post_multipart(url, &part, 1, RPC_TIMEOUT_MS, &res);
    log_info("host.rpc_call", "deployment=%s module=%s function=%s url=%s bytes=%u status=%ld",
             log_quote(env->deployment_id), log_quote(env->module_name), log_quote(name),
             log_quote(url), data_len, res.status);
    int rc = 0;
    if (!answered)
        rc = RPC_TRAP(call, "%s at %s did not answer: %s", name, url, res.error);
    else if (res.status >= 400)
        rc = RPC_TRAP(call, "%s at %s answered HTTP %ld", name, url, res.status);
    http_result_free(&res);
    free(url);
    return rc;
}
