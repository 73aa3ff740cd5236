// Minimal protobuf wire-format reader, just enough to read the agent session events
// (livekit.agent.AgentSessionMessage) that LiveKit Agents publishes on the "lk.agent.session" byte stream.
"use strict";
(function (global) {
  function readVarint(buf, pos) {
    let result = 0, shift = 0, b;
    do {
      if (pos >= buf.length) throw new Error("truncated varint");
      b = buf[pos++];
      result += (b & 0x7f) * Math.pow(2, shift);
      shift += 7;
    } while (b & 0x80);
    return [result, pos];
  }
  // Returns {fieldNumber: [values...]}; length-delimited values are Uint8Array, varints numbers.
  function decode(buf) {
    const fields = {};
    let pos = 0;
    while (pos < buf.length) {
      let key; [key, pos] = readVarint(buf, pos);
      const field = Math.floor(key / 8), wire = key & 7;
      let value;
      if (wire === 0) { [value, pos] = readVarint(buf, pos); }
      else if (wire === 2) { let len; [len, pos] = readVarint(buf, pos); value = buf.subarray(pos, pos + len); pos += len; }
      else if (wire === 1) { value = buf.subarray(pos, pos + 8); pos += 8; }
      else if (wire === 5) { value = buf.subarray(pos, pos + 4); pos += 4; }
      else throw new Error("unsupported wire type " + wire);
      (fields[field] = fields[field] || []).push(value);
    }
    return fields;
  }
  const utf8 = new TextDecoder();
  function str(fields, n) { return fields[n] ? utf8.decode(fields[n][0]) : ""; }

  // AgentSessionMessage.event (3) -> AgentSessionEvent.function_tools_executed (14)
  //   FunctionToolsExecuted: function_calls (1) FunctionCall{call_id 2, arguments 3, name 4}
  //                          function_call_outputs (2) FunctionCallOutput{name 2, call_id 3, output 4, is_error 5}
  function toolCallsFromSessionMessage(bytes) {
    const msg = decode(bytes);
    if (!msg[3]) return [];
    const event = decode(msg[3][0]);
    if (!event[14]) return [];
    const executed = decode(event[14][0]);
    const outputs = {};
    for (const raw of executed[2] || []) {
      const o = decode(raw);
      outputs[str(o, 3)] = { output: str(o, 4), isError: !!(o[5] && o[5][0]) };
    }
    return (executed[1] || []).map((raw) => {
      const c = decode(raw);
      const out = outputs[str(c, 2)] || { output: null, isError: false };
      return { name: str(c, 4), arguments: str(c, 3), output: out.output, isError: out.isError };
    });
  }
  global.VoxProto = { decode, toolCallsFromSessionMessage };
})(window);
