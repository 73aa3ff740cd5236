// voxmcp web page: join a LiveKit room with a server-minted token, talk to the agent, show what it does.
"use strict";
(function () {
  const LK = window.LivekitClient;
  const $ = (id) => document.getElementById(id);
  const view = { state: "disconnected", transcript: [], toolCalls: [], errors: [], room: null };
  window.voxmcp = view; // for people (and tests) poking at the page from the console

  let room = null;
  let session = null; // {url, room, identity, token}
  const segments = new Map(); // segment id -> <li>

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", !!isError);
    if (isError) view.errors.push(text);
  }
  function setAgentState(state) {
    view.state = state;
    $("agent-state").textContent = state;
    $("agent-state").dataset.state = state;
  }
  function isAgent(identity) {
    const p = room && room.remoteParticipants.get(identity);
    return !!p && (p.isAgent || p.kind === LK.ParticipantKind.AGENT);
  }

  async function postJSON(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await resp.json(); } catch (_) { /* fall through */ }
    if (!resp.ok) throw new Error(data.error || `${path} answered HTTP ${resp.status}`);
    return data;
  }

  async function getSession() {
    if (session) {
      try {
        const fresh = await postJSON("/api/session/refresh", { token: session.token });
        session = Object.assign({}, session, { token: fresh.token });
        return session;
      } catch (err) {
        setStatus(`${err.message} — starting a new conversation`, false);
      }
    }
    // ?room=NAME asks for a named room; the server grants it only if configured to
    const named = new URLSearchParams(window.location.search).get("room");
    session = await postJSON("/api/session", named ? { room: named } : {});
    return session;
  }

  function upsertSegment(id, who, text, final) {
    let li = segments.get(id);
    if (!li) {
      li = document.createElement("li");
      li.className = who;
      const label = document.createElement("span");
      label.className = "who";
      label.textContent = who === "agent" ? "Agent:" : "You:";
      const body = document.createElement("span");
      body.className = "text";
      li.append(label, body);
      $("transcript").append(li);
      segments.set(id, li);
      view.transcript.push({ id, who, text: "", final: false });
    }
    li.querySelector(".text").textContent = text;
    li.classList.toggle("partial", !final);
    const entry = view.transcript.find((e) => e.id === id);
    entry.text = text;
    entry.final = final;
  }

  async function onTranscription(reader, participantInfo) {
    const attrs = reader.info.attributes || {};
    const id = attrs["lk.segment_id"] || reader.info.id;
    const who = isAgent(participantInfo.identity) ? "agent" : "user";
    let text = "";
    for await (const chunk of reader) {
      text += chunk;
      upsertSegment(id, who, text, false);
    }
    upsertSegment(id, who, text, attrs["lk.transcription_final"] === "true" || who === "agent");
  }

  async function onSessionEvent(reader) {
    const chunks = await reader.readAll();
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) { bytes.set(c, off); off += c.length; }
    let calls = [];
    try { calls = window.VoxProto.toolCallsFromSessionMessage(bytes); } catch (err) { console.warn("bad session event", err); }
    for (const call of calls) {
      view.toolCalls.push(call);
      const li = document.createElement("li");
      li.className = call.isError ? "error" : "ok";
      li.textContent = `${call.name}(${call.arguments})\n→ ${call.output === null ? "(no result)" : call.output}`;
      $("tools").append(li);
    }
  }

  function wireRoom(r) {
    r.registerTextStreamHandler("lk.transcription", (reader, info) => { onTranscription(reader, info).catch(console.warn); });
    r.registerByteStreamHandler("lk.agent.session", (reader) => { onSessionEvent(reader).catch(console.warn); });
    r.on(LK.RoomEvent.TrackSubscribed, (track) => {
      if (track.kind === LK.Track.Kind.Audio) $("audio").append(track.attach());
    });
    r.on(LK.RoomEvent.TrackUnsubscribed, (track) => { track.detach().forEach((el) => el.remove()); });
    r.on(LK.RoomEvent.ParticipantAttributesChanged, (changed, participant) => {
      if ("lk.agent.state" in changed && participant !== r.localParticipant) setAgentState(changed["lk.agent.state"]);
    });
    r.on(LK.RoomEvent.ParticipantConnected, (p) => {
      if (p.isAgent || p.kind === LK.ParticipantKind.AGENT) {
        setStatus("The agent joined. Speak when it is listening.");
        if (p.attributes["lk.agent.state"]) setAgentState(p.attributes["lk.agent.state"]);
      }
    });
    r.on(LK.RoomEvent.ParticipantDisconnected, (p) => {
      if (p.isAgent || p.kind === LK.ParticipantKind.AGENT) { setAgentState("disconnected"); setStatus("The agent left the room.", true); }
    });
    r.on(LK.RoomEvent.Disconnected, (reason) => {
      setAgentState("disconnected");
      $("start").disabled = false; $("mic").disabled = true; $("stop").disabled = true;
      if (reason !== LK.DisconnectReason.CLIENT_INITIATED) setStatus(`Disconnected from LiveKit (${reason}).`, true);
    });
  }

  async function setMic(on) {
    await room.localParticipant.setMicrophoneEnabled(on);
    $("mic").textContent = on ? "Microphone: on" : "Microphone: off";
    $("mic").dataset.on = on ? "1" : "0";
  }

  async function start() {
    $("start").disabled = true;
    setStatus("Getting a token…");
    try {
      const s = await getSession();
      room = new LK.Room({ adaptiveStream: false, dynacast: false });
      view.room = room;
      wireRoom(room);
      setStatus(`Joining room ${s.room}…`);
      await room.connect(s.url, s.token);
      await room.startAudio().catch(() => {});
      for (const p of room.remoteParticipants.values()) {
        if ((p.isAgent || p.kind === LK.ParticipantKind.AGENT) && p.attributes["lk.agent.state"]) setAgentState(p.attributes["lk.agent.state"]);
      }
      if (view.state === "disconnected") setAgentState("waiting for agent");
      setStatus(`Joined ${s.room} as ${s.identity}. Waiting for the agent…`);
      $("mic").disabled = false; $("stop").disabled = false;
      if ($("mic-on-join").checked) await setMic(true);
    } catch (err) {
      setStatus(`Could not join: ${err && err.message ? err.message : err}`, true);
      $("start").disabled = false;
      if (room) { await room.disconnect().catch(() => {}); room = null; }
    }
  }

  $("start").addEventListener("click", () => { start(); });
  $("mic").addEventListener("click", () => {
    setMic($("mic").dataset.on !== "1").catch((err) => setStatus(`Microphone: ${err.message}`, true));
  });
  $("stop").addEventListener("click", async () => {
    if (room) await room.disconnect();
    setStatus("Left the room. Press “Start talking” to rejoin.");
  });
})();
