#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that loses answers on request, for the client's fault tests.

    cutting-proxy.py TARGET_PORT

Prints the port it listens on, then forwards every connection to TARGET_PORT on 127.0.0.1. Signals:
  SIGUSR1  the next bytes a server sends on any connection are dropped, and that connection closed on both
           sides: the request was served, its answer lost
  SIGUSR2  every open connection is closed now
Each cut is printed as a line "cut N", N counting from 1.
"""
import asyncio
import signal
import sys

target = int(sys.argv[1])
armed = False
cuts = 0
connections = set()


def cut(pair):
    global cuts
    for writer in pair:
        writer.transport.abort()
    connections.discard(pair)
    cuts += 1
    print(f"cut {cuts}", flush=True)


async def pump(reader, writer, pair, from_server):
    global armed
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if from_server and armed:
                armed = False
                cut(pair)
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()
        connections.discard(pair)


async def serve(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        client_writer.transport.abort()
        return
    pair = (client_writer, server_writer)
    connections.add(pair)
    await asyncio.gather(
        pump(client_reader, server_writer, pair, False), pump(server_reader, client_writer, pair, True))


def arm():
    global armed
    armed = True


def cut_all():
    for pair in list(connections):
        cut(pair)


async def main():
    # A test process may block signals, and its children inherit the mask.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM})
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, arm)
    loop.add_signal_handler(signal.SIGUSR2, cut_all)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
