"""`python -m voxmcp.demo`: run the demo MCP server."""

from voxmcp.demo.cli import main

if __name__ == "__main__":
    main()
