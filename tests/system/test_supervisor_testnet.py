"""The reference's two-device pipeline (wasmiot-api.md §2.5, §10), across two simulated
hosts of a private network (testnet.sh): the camera module on h1 captures a frame to
its output mount image.jpeg, and the supervisor sends it as a multipart part to the
grayscale module on h2, which decodes it and returns its mean brightness. h3 plays the
orchestrator: it serves the module binaries, deploys each device's node, and calls the
first step. The caller gets the final result; both histories hold their step."""
import json
import pathlib
import shutil
import subprocess
import sys
import time

import testnet

HERE = pathlib.Path(__file__).resolve().parent
FRAME = HERE.parent / "data" / "images" / "scene_64x48_420.jpg"
DEP = "666d616ac015bf5d9be90580"


def test_camera_to_grayscale_across_two_hosts(liquid_bin, example, tmp_path):
    testnet.require()
    # what the grayscale step must compute: the module run locally on the same frame
    local = tmp_path / "local"
    local.mkdir()
    shutil.copy(FRAME, local / "image.jpeg")
    run = subprocess.run([str(liquid_bin), "run", "--dir", f"{local}::.", "--invoke",
                          "grayscale", str(example("grayscale"))],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    brightness = run.stdout.strip()
    assert 0 < int(brightness) < 255

    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(FRAME, frames / "frame.jpg")
    out = testnet.run(chain_body, hosts=3, timeout=240, liquid=str(liquid_bin),
                      camera=str(example("camera")), grayscale=str(example("grayscale")),
                      frames=str(frames))
    assert out["deploy"] == [200, 200], out
    call = out["call"]
    assert call["status"] == 200, out
    # the pipeline's final result, as the Rust reference returns it
    assert call["body"]["result"] == {"result": brightness}, out
    camera_entry, gray_entry = out["camera_history"], out["gray_history"]
    assert camera_entry["success"] and gray_entry["success"]
    assert camera_entry["module_name"] == "camera" and gray_entry["module_name"] == "gray"
    assert camera_entry["result"] is None          # a file result
    assert camera_entry["outputs"] == [f"http://10.77.0.1:8080/module_results/{DEP}/camera/image.jpeg"]
    assert camera_entry["chainResult"] == {"result": brightness}
    assert camera_entry["next"].startswith("http://10.77.0.2:8080/request-history/")
    assert gray_entry["result"] == brightness and gray_entry["method"] == "POST"
    assert list(gray_entry["request_files"]) == ["image.jpeg"]
    # the frame travelled unchanged, and h2 made the same picture the local run made
    assert bytes.fromhex(out["camera_image"]) == FRAME.read_bytes()
    assert bytes.fromhex(out["gray_result"]) == (local / "result.pgm").read_bytes()
    assert out["exits"] == [0, 0], out


def supervisor(net, host, liquid, name, *extra):
    return net.spawn(host, [liquid, "supervisor", "--name", name, "--port", "8080",
                            "--address", net.address(host),
                            "--instance-dir", str(net.scratch / name), *extra])


def chain_body(net, liquid, camera, grayscale, frames):
    """Inside the private network: supervisors on h1 and h2, the driver on h3."""
    processes = [supervisor(net, 1, liquid, "cam-device", "--camera-dir", frames),
                 supervisor(net, 2, liquid, "gray-device")]
    driven = net.run(3, [sys.executable, str(pathlib.Path(__file__).resolve()), "--drive",
                         json.dumps({"camera": camera, "grayscale": grayscale,
                                     "scratch": str(net.scratch / "files"),
                                     "h1": net.address(1), "h2": net.address(2),
                                     "h3": net.address(3)})], timeout=180)
    if driven.returncode != 0:
        raise AssertionError(f"driver failed:\n{driven.stdout}\n{driven.stderr}")
    result = json.loads(driven.stdout.splitlines()[-1])
    result["exits"] = []
    for p in processes:
        _, log = net.stop(p, timeout=20)
        result["exits"].append(p.returncode)
        if p.returncode != 0:
            result.setdefault("logs", []).append(log)
    return result


def drive(args):
    """On h3, the orchestrator's part: serve, deploy, call, read both histories."""
    sys.path.insert(0, str(HERE))
    from supervisor_util import FileServer, endpoint, module_entry, mount, node, request
    files = FileServer(args["scratch"], host=args["h3"])
    cam_base, gray_base = f"http://{args['h1']}:8080", f"http://{args['h2']}:8080"
    for base in (cam_base, gray_base):
        deadline = time.time() + 30
        while True:
            try:
                if request("GET", base + "/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit(f"{base} never answered /health")
            time.sleep(0.1)
    cam_url = files.put("camera.wasm", pathlib.Path(args["camera"]).read_bytes())
    gray_url = files.put("grayscale.wasm", pathlib.Path(args["grayscale"]).read_bytes())
    take = endpoint(cam_base, DEP, "camera", "take_image_predefined_path", params=(),
                    media_type="image/jpg")
    gray = endpoint(gray_base, DEP, "gray", "grayscale", method="post", params=(),
                    request_body={"media_type": "multipart/form-data",
                                  "schema": {"type": "object", "properties": {
                                      "image.jpeg": {"type": "string", "format": "binary"}}}})
    gray_node = node(DEP, [module_entry("gray", gray_url)], [
        {"module": "gray", "function": "grayscale", "endpoint": gray, "to": None,
         "mounts": {"execution": [mount("image.jpeg", "execution")],
                    "output": [mount("result.pgm", "output", "image/x-portable-graymap")]}}])
    cam_node = node(DEP, [module_entry("camera", cam_url)], [
        {"module": "camera", "function": "take_image_predefined_path", "endpoint": take,
         "to": gray, "mounts": {"output": [mount("image.jpeg", "output", "image/jpg")]}}])
    # the orchestrator deploys the last step first, then calls the first step
    deploy = [request("POST", gray_base + "//deploy", json_body=gray_node).status,
              request("POST", cam_base + "//deploy", json_body=cam_node).status]
    call = request("GET", f"{cam_base}/{DEP}/modules/camera/take_image_predefined_path")
    body = call.json()
    out = {"deploy": deploy, "call": {"status": call.status, "body": body}}
    out["camera_history"] = request("GET", body.get("resultUrl", cam_base + "/none")).json()
    out["gray_history"] = request("GET", gray_base + "/request-history").json()[-1]
    out["camera_image"] = request(
        "GET", f"{cam_base}/module_results/{DEP}/camera/image.jpeg").body.hex()
    out["gray_result"] = request(
        "GET", f"{gray_base}/{DEP}/modules/gray/grayscale/result.pgm").body.hex()
    files.stop()
    print(json.dumps(out), flush=True)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--drive":
    drive(json.loads(sys.argv[2]))
