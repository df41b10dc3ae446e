--
-- PostgreSQL database dump
--

\restrict 5cXxYdepYyrh1NTmuK5TYNUMXwtqp96S5JBseIv45AUSIlTsiYwfJsS4tBC4253

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

DROP INDEX IF EXISTS public.fixture_events_global_order;
DROP INDEX IF EXISTS public.fixture_events_aggregate_key;
DROP INDEX IF EXISTS public.fixture_event_streams_category;
ALTER TABLE IF EXISTS ONLY public.fixture_subscription_checkpoints DROP CONSTRAINT IF EXISTS fixture_subscription_checkpoints_pkey;
ALTER TABLE IF EXISTS ONLY public.fixture_snapshots DROP CONSTRAINT IF EXISTS fixture_snapshots_pkey;
ALTER TABLE IF EXISTS ONLY public.fixture_projections DROP CONSTRAINT IF EXISTS fixture_projections_pkey;
ALTER TABLE IF EXISTS ONLY public.fixture_events DROP CONSTRAINT IF EXISTS fixture_events_stream_uuid_key;
ALTER TABLE IF EXISTS ONLY public.fixture_events DROP CONSTRAINT IF EXISTS fixture_events_stream_position_key;
ALTER TABLE IF EXISTS ONLY public.fixture_events DROP CONSTRAINT IF EXISTS fixture_events_pkey;
ALTER TABLE IF EXISTS ONLY public.fixture_event_streams DROP CONSTRAINT IF EXISTS fixture_event_streams_pkey;
ALTER TABLE IF EXISTS ONLY public.fixture_event_streams DROP CONSTRAINT IF EXISTS fixture_event_streams_name_key;
ALTER TABLE IF EXISTS ONLY public.fixture_event_store_schema DROP CONSTRAINT IF EXISTS fixture_event_store_schema_pkey;
DROP TABLE IF EXISTS public.fixture_subscription_checkpoints;
DROP TABLE IF EXISTS public.fixture_snapshots;
DROP TABLE IF EXISTS public.fixture_projections;
DROP TABLE IF EXISTS public.fixture_events;
DROP TABLE IF EXISTS public.fixture_event_streams;
DROP TABLE IF EXISTS public.fixture_event_store_schema;
SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: fixture_event_store_schema; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fixture_event_store_schema (
    id integer NOT NULL,
    version integer NOT NULL,
    CONSTRAINT fixture_event_store_schema_id_check CHECK ((id = 1))
);


--
-- Name: fixture_event_streams; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fixture_event_streams (
    id bigint NOT NULL,
    name text NOT NULL COLLATE pg_catalog."C",
    category text COLLATE pg_catalog."C",
    metadata jsonb NOT NULL,
    version bigint DEFAULT 0 NOT NULL,
    last_transaction_id xid8,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: fixture_event_streams_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.fixture_event_streams ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.fixture_event_streams_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: fixture_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fixture_events (
    global_position bigint NOT NULL,
    transaction_id xid8 DEFAULT pg_current_xact_id() NOT NULL,
    stream_id bigint NOT NULL,
    "position" bigint NOT NULL,
    uuid uuid NOT NULL,
    message_name text NOT NULL,
    payload json NOT NULL,
    metadata jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL,
    aggregate_type text,
    aggregate_id text,
    aggregate_version text
);


--
-- Name: fixture_events_global_position_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.fixture_events ALTER COLUMN global_position ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.fixture_events_global_position_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: fixture_projections; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fixture_projections (
    name text NOT NULL COLLATE pg_catalog."C",
    kind text NOT NULL,
    status text NOT NULL,
    state text,
    positions text NOT NULL,
    checkpoint text,
    locked_until bigint,
    lease_owner text,
    read_model_action text
);


--
-- Name: fixture_snapshots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fixture_snapshots (
    aggregate_type text NOT NULL COLLATE pg_catalog."C",
    aggregate_id text NOT NULL COLLATE pg_catalog."C",
    last_version bigint NOT NULL,
    state json NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: fixture_subscription_checkpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fixture_subscription_checkpoints (
    name text NOT NULL COLLATE pg_catalog."C",
    "position" text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Data for Name: fixture_event_store_schema; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.fixture_event_store_schema (id, version) FROM stdin;
1	4
\.


--
-- Data for Name: fixture_event_streams; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.fixture_event_streams (id, name, category, metadata, version, last_transaction_id, created_at) FROM stdin;
2	account-2	account	{}	1	728	2026-12-02 00:18:45.527401+00
1	account-1	account	{"vip": true, "owner": "Zoë", "retention": 30}	3	726	2026-12-02 00:18:44.86451+00
\.


--
-- Data for Name: fixture_events; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.fixture_events (global_position, transaction_id, stream_id, "position", uuid, message_name, payload, metadata, created_at, aggregate_type, aggregate_id, aggregate_version) FROM stdin;
1	726	1	1	0b4f7c1e-2d3a-4e5f-8a9b-1c2d3e4f5a6b	AccountOpened	{"owner":"Zoë","limits":[1,2.5,"three",null,true]}	{"tenant": "t-1", "_aggregate_id": "1", "_aggregate_type": "account", "_aggregate_version": 1}	2026-11-30 12:34:56.123456+00	account	1	1
2	726	1	2	1c5a8d2f-3e4b-4f60-9bac-2d3e4f5a6b7c	MoneyDeposited	{"amount":125.75,"note":"\\u00e9t\\u00e9 \\ud83d\\ude00"}	{"_aggregate_id": "1", "_aggregate_type": "account", "_aggregate_version": 2}	2026-11-30 12:35:00.000001+00	account	1	2
3	726	1	3	2d6b9e3a-4f5c-4a71-8cbd-3e4f5a6b7c8d	MoneyWithdrawn	{"amount":25}	{"big": 9007199254740993, "_aggregate_id": "1", "_aggregate_type": "account", "_aggregate_version": 3}	2026-11-30 12:36:00.5+00	account	1	3
4	728	2	1	3e7cae4b-5a6d-4b82-9dce-4f5a6b7c8d9e	AccountOpened	{"owner":"Ada"}	{}	2026-11-30 13:00:00+00	\N	\N	\N
\.


--
-- Data for Name: fixture_projections; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.fixture_projections (name, kind, status, state, positions, checkpoint, locked_until, lease_owner, read_model_action) FROM stdin;
\.


--
-- Data for Name: fixture_snapshots; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.fixture_snapshots (aggregate_type, aggregate_id, last_version, state, created_at) FROM stdin;
\.


--
-- Data for Name: fixture_subscription_checkpoints; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.fixture_subscription_checkpoints (name, "position", updated_at) FROM stdin;
\.


--
-- Name: fixture_event_streams_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.fixture_event_streams_id_seq', 2, true);


--
-- Name: fixture_events_global_position_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.fixture_events_global_position_seq', 4, true);


--
-- Name: fixture_event_store_schema fixture_event_store_schema_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_event_store_schema
    ADD CONSTRAINT fixture_event_store_schema_pkey PRIMARY KEY (id);


--
-- Name: fixture_event_streams fixture_event_streams_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_event_streams
    ADD CONSTRAINT fixture_event_streams_name_key UNIQUE (name);


--
-- Name: fixture_event_streams fixture_event_streams_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_event_streams
    ADD CONSTRAINT fixture_event_streams_pkey PRIMARY KEY (id);


--
-- Name: fixture_events fixture_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_events
    ADD CONSTRAINT fixture_events_pkey PRIMARY KEY (global_position);


--
-- Name: fixture_events fixture_events_stream_position_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_events
    ADD CONSTRAINT fixture_events_stream_position_key UNIQUE (stream_id, "position");


--
-- Name: fixture_events fixture_events_stream_uuid_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_events
    ADD CONSTRAINT fixture_events_stream_uuid_key UNIQUE (stream_id, uuid);


--
-- Name: fixture_projections fixture_projections_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_projections
    ADD CONSTRAINT fixture_projections_pkey PRIMARY KEY (name);


--
-- Name: fixture_snapshots fixture_snapshots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_snapshots
    ADD CONSTRAINT fixture_snapshots_pkey PRIMARY KEY (aggregate_type, aggregate_id);


--
-- Name: fixture_subscription_checkpoints fixture_subscription_checkpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fixture_subscription_checkpoints
    ADD CONSTRAINT fixture_subscription_checkpoints_pkey PRIMARY KEY (name);


--
-- Name: fixture_event_streams_category; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX fixture_event_streams_category ON public.fixture_event_streams USING btree (category) WHERE (category IS NOT NULL);


--
-- Name: fixture_events_aggregate_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX fixture_events_aggregate_key ON public.fixture_events USING btree (stream_id, aggregate_type, aggregate_id, aggregate_version) WHERE (aggregate_type IS NOT NULL);


--
-- Name: fixture_events_global_order; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX fixture_events_global_order ON public.fixture_events USING btree (transaction_id, global_position);


--
-- PostgreSQL database dump complete
--

\unrestrict 5cXxYdepYyrh1NTmuK5TYNUMXwtqp96S5JBseIv45AUSIlTsiYwfJsS4tBC4253

