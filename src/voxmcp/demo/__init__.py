"""The bundled demo MCP server: offline tools a voice demo can use, served over Streamable HTTP on loopback.

Tools: add_note(text), list_notes(), delete_note(note_id), get_weather(city), get_time(timezone),
convert_units(value, from_unit, to_unit), check_package_status(tracking_id) (slow, reports progress);
with --faults also fail_tool() and hang_tool(seconds). Run it with `python -m voxmcp.demo` or
`voxmcp demo-server`; drive it from code with `voxmcp.demo.runner.DemoServerProcess`.
"""
