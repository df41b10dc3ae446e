/// The OpenAPI description of every route, served at `/openapi.json`: parameters with their constraints,
/// request bodies and every response's schema. `HTTPAPITests` checks that it lists every route the router
/// registers, and `scripts/fuzz-http` that the server answers as it says.
public enum OpenAPIDocument {
    /// The document as OpenAPI 3.1 JSON text, as `GET /openapi.json` answers it.
    public static let json = #"""
{
 "openapi": "3.1.0",
 "info": {
  "title": "swift-event-store HTTP API",
  "version": "1.0.0",
  "description": "prooph's event-store-http-api routes and JSON shapes, with problem documents (RFC 9457) for every error. Without tokens configured no route asks for one. Every response carries ES-API-Version: 1; a request may send ES-API-Version to say which version it speaks, and one this server does not speak gets 400. A server of a partitioned store (serve --database partitioned:FILE) answers the stream routes as described, and /all, /head, /checkpoints and /subscribe with composite positions (a=1042,b=7:15, one part per member; empty for the start) wherever this document says global position: its events also carry member and composite_position, /all also answers unavailable (the members that could not be read), and /head answers head only; it serves projections and consumer groups (whose checkpoint and start.after are composite positions there), and no /all/count."
 },
 "security": [
  {
   "bearer": []
  }
 ],
 "paths": {
  "/stream/{name}": {
   "get": {
    "summary": "Read a stream forward from position 1, 10 events; meta_N_field, meta_N_operator and meta_N_value (N a number) filter by metadata, property_N_… by message_name, uuid, created_at or position",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "$ref": "#/components/parameters/Accept"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/StreamPage"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   },
   "post": {
    "summary": "Append events, creating the stream when it is missing",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "name": "ES-ExpectedVersion",
      "in": "header",
      "required": false,
      "schema": {
       "$ref": "#/components/schemas/ExpectedVersion"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "array",
        "minItems": 1,
        "maxItems": 100,
        "items": {
         "$ref": "#/components/schemas/NewEvent"
        }
       }
      }
     }
    },
    "responses": {
     "204": {
      "description": "Appended",
      "headers": {
       "ES-StreamVersion": {
        "required": true,
        "schema": {
         "type": "string",
         "pattern": "^[0-9]+$"
        },
        "description": "The stream's version after the append"
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "409": {
      "description": "The stream is not at the expected version, or an event's uuid or aggregate version is taken",
      "content": {
       "application/problem+json": {
        "schema": {
         "$ref": "#/components/schemas/Problem"
        }
       }
      }
     },
     "413": {
      "$ref": "#/components/responses/BodyTooLarge"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/append": {
   "post": {
    "summary": "Write to several streams in one transaction: every write or none",
    "description": "Each write appends its events to its stream with its expected version (any when absent); with metadata, creates the stream with it; with stream_metadata, replaces the stream's metadata; with delete, deletes it (purge, soft or hard). A failure of any write (a conflict, a missing stream, bad input) writes nothing. Events carry their uuids so that a retried request gets the first one's results.",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "array",
        "minItems": 1,
        "maxItems": 100,
        "items": {
         "oneOf": [
          {
           "type": "object",
           "description": "An append",
           "required": [
            "stream",
            "events"
           ],
           "additionalProperties": false,
           "properties": {
            "stream": {
             "$ref": "#/components/schemas/StreamName"
            },
            "expected_version": {
             "$ref": "#/components/schemas/ExpectedVersion"
            },
            "events": {
             "type": "array",
             "maxItems": 100,
             "items": {
              "$ref": "#/components/schemas/NewEvent"
             }
            }
           }
          },
          {
           "type": "object",
           "description": "A create, with the stream's metadata",
           "required": [
            "stream",
            "metadata",
            "events"
           ],
           "additionalProperties": false,
           "properties": {
            "stream": {
             "$ref": "#/components/schemas/StreamName"
            },
            "metadata": {
             "$ref": "#/components/schemas/Metadata"
            },
            "events": {
             "type": "array",
             "maxItems": 100,
             "items": {
              "$ref": "#/components/schemas/NewEvent"
             }
            }
           }
          },
          {
           "type": "object",
           "description": "A change of the stream's metadata",
           "required": [
            "stream",
            "stream_metadata"
           ],
           "additionalProperties": false,
           "properties": {
            "stream": {
             "$ref": "#/components/schemas/StreamName"
            },
            "stream_metadata": {
             "$ref": "#/components/schemas/Metadata"
            }
           }
          },
          {
           "type": "object",
           "description": "A delete",
           "required": [
            "stream",
            "delete"
           ],
           "additionalProperties": false,
           "properties": {
            "stream": {
             "$ref": "#/components/schemas/StreamName"
            },
            "delete": {
             "type": "string",
             "enum": [
              "purge",
              "soft",
              "hard"
             ]
            }
           }
          }
         ]
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "Written: each write's stream, its version after it and the global position of its last event (both null for a change of metadata or a delete; the position null when it wrote no event)",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "results"
         ],
         "properties": {
          "results": {
           "type": "array",
           "items": {
            "type": "object",
            "required": [
             "stream",
             "version",
             "position"
            ],
            "properties": {
             "stream": {
              "type": "string"
             },
             "version": {
              "type": [
               "integer",
               "null"
              ],
              "minimum": 0
             },
             "position": {
              "oneOf": [
               {
                "$ref": "#/components/schemas/GlobalPosition"
               },
               {
                "type": "null"
               }
              ]
             }
            }
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "409": {
      "description": "A stream is not at its expected version, exists already (a write with metadata), or an event's uuid or aggregate version is taken",
      "content": {
       "application/problem+json": {
        "schema": {
         "$ref": "#/components/schemas/Problem"
        }
       }
      }
     },
     "413": {
      "$ref": "#/components/responses/BodyTooLarge"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/stream/{name}/{start}": {
   "get": {
    "summary": "Read a stream forward from start, 10 events; meta_N_field, meta_N_operator and meta_N_value (N a number) filter by metadata, property_N_… by message_name, uuid, created_at or position",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "$ref": "#/components/parameters/Start"
     },
     {
      "$ref": "#/components/parameters/Accept"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/StreamPage"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/stream/{name}/{start}/{direction}": {
   "get": {
    "summary": "Read a stream from start in a direction, 10 events; meta_N_field, meta_N_operator and meta_N_value (N a number) filter by metadata, property_N_… by message_name, uuid, created_at or position",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "$ref": "#/components/parameters/Start"
     },
     {
      "name": "direction",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "enum": [
        "forward",
        "backward"
       ]
      },
      "description": "The reading direction"
     },
     {
      "$ref": "#/components/parameters/Accept"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/StreamPage"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/stream/{name}/{start}/{direction}/{count}": {
   "get": {
    "summary": "Read a page of a stream; meta_N_field, meta_N_operator and meta_N_value (N a number) filter by metadata, property_N_… by message_name, uuid, created_at or position",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "$ref": "#/components/parameters/Start"
     },
     {
      "name": "direction",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "enum": [
        "forward",
        "backward"
       ]
      },
      "description": "The reading direction"
     },
     {
      "name": "count",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 10000
      },
      "description": "The most events in the page"
     },
     {
      "$ref": "#/components/parameters/Accept"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/StreamPage"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/streammetadata/{name}": {
   "get": {
    "summary": "A stream's metadata",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     }
    ],
    "responses": {
     "200": {
      "description": "The metadata",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/StoredMetadata"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   },
   "post": {
    "summary": "Replace a stream's metadata",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Metadata"
       }
      }
     }
    },
    "responses": {
     "204": {
      "description": "Replaced"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "413": {
      "$ref": "#/components/responses/BodyTooLarge"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/delete/{name}": {
   "post": {
    "summary": "Delete a stream: purge (the default), soft or hard",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "name": "mode",
      "in": "query",
      "required": false,
      "description": "purge (default: the events are removed and the name is free), soft (the stream is hidden; an append expecting no stream starts it again, its positions going on) or hard (a tombstone: the name answers 410 for good)",
      "schema": {
       "type": "string",
       "enum": [
        "purge",
        "soft",
        "hard"
       ],
       "default": "purge"
      }
     }
    ],
    "responses": {
     "204": {
      "description": "Deleted"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchStream"
     },
     "410": {
      "$ref": "#/components/responses/StreamDeleted"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/has-stream/{name}": {
   "get": {
    "summary": "Whether a stream exists",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     }
    ],
    "responses": {
     "200": {
      "description": "It exists (no body)"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "description": "It does not exist",
      "content": {
       "application/problem+json": {
        "schema": {
         "$ref": "#/components/schemas/Problem"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/streams": {
   "get": {
    "summary": "Stream names; meta_N_field, meta_N_operator and meta_N_value (N a number) filter by metadata (of streams)",
    "parameters": [
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/streams/{filter}": {
   "get": {
    "summary": "The stream of this exact name, when it exists",
    "parameters": [
     {
      "$ref": "#/components/parameters/ExactFilter"
     },
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/streams-regex/{filter}": {
   "get": {
    "summary": "Stream names a regular expression finds",
    "parameters": [
     {
      "$ref": "#/components/parameters/RegexFilter"
     },
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/categories": {
   "get": {
    "summary": "Category names (the part of stream names before the first -)",
    "parameters": [
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/categories/{filter}": {
   "get": {
    "summary": "The category of this exact name, when it exists",
    "parameters": [
     {
      "$ref": "#/components/parameters/ExactFilter"
     },
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/categories-regex/{filter}": {
   "get": {
    "summary": "Category names a regular expression finds",
    "parameters": [
     {
      "$ref": "#/components/parameters/RegexFilter"
     },
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/subscribe/all": {
   "get": {
    "summary": "Server-Sent Events of every stream",
    "parameters": [
     {
      "$ref": "#/components/parameters/From"
     },
     {
      "$ref": "#/components/parameters/LastEventID"
     },
     {
      "name": "stream",
      "in": "query",
      "required": false,
      "style": "form",
      "explode": true,
      "schema": {
       "type": "array",
       "maxItems": 5,
       "items": {
        "$ref": "#/components/schemas/StreamName"
       }
      },
      "description": "Only these streams (each given once); not with category"
     },
     {
      "name": "category",
      "in": "query",
      "required": false,
      "style": "form",
      "explode": true,
      "schema": {
       "type": "array",
       "maxItems": 5,
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.:@]{0,99}$"
       }
      },
      "description": "Only the streams of these categories; not with stream"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/EventStream"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/TooManyEventStreams"
     }
    }
   }
  },
  "/subscribe/stream/{name}": {
   "get": {
    "summary": "Server-Sent Events of one stream",
    "parameters": [
     {
      "$ref": "#/components/parameters/StreamName"
     },
     {
      "$ref": "#/components/parameters/From"
     },
     {
      "$ref": "#/components/parameters/LastEventID"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/EventStream"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/TooManyEventStreams"
     }
    }
   }
  },
  "/subscribe/category/{name}": {
   "get": {
    "summary": "Server-Sent Events of a category",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "$ref": "#/components/schemas/Key"
      },
      "description": "The category"
     },
     {
      "$ref": "#/components/parameters/From"
     },
     {
      "$ref": "#/components/parameters/LastEventID"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/EventStream"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/TooManyEventStreams"
     }
    }
   }
  },
  "/projections": {
   "get": {
    "summary": "Projection names",
    "parameters": [
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projections/{filter}": {
   "get": {
    "summary": "The projection of this exact name, when it exists",
    "parameters": [
     {
      "$ref": "#/components/parameters/ExactFilter"
     },
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projections-regex/{filter}": {
   "get": {
    "summary": "Projection names a regular expression finds",
    "parameters": [
     {
      "$ref": "#/components/parameters/RegexFilter"
     },
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projection/delete/{name}/{withEmittedEvents}": {
   "post": {
    "summary": "Delete a projection (true: with its stream or read model); done at once when no runner holds it, else by the runner at its next block",
    "parameters": [
     {
      "$ref": "#/components/parameters/ProjectionName"
     },
     {
      "name": "withEmittedEvents",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "enum": [
        "true",
        "false"
       ]
      },
      "description": "Whether to delete what it emitted"
     }
    ],
    "responses": {
     "204": {
      "description": "Deleted, or asked to delete"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchProjection"
     },
     "409": {
      "$ref": "#/components/responses/ProjectionHeld"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projection/reset/{name}": {
   "post": {
    "summary": "Reset a projection; done at once when no runner holds it",
    "parameters": [
     {
      "$ref": "#/components/parameters/ProjectionName"
     }
    ],
    "responses": {
     "204": {
      "description": "Reset, or asked to reset"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchProjection"
     },
     "409": {
      "$ref": "#/components/responses/ProjectionHeld"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projection/stop/{name}": {
   "post": {
    "summary": "Stop a projection",
    "parameters": [
     {
      "$ref": "#/components/parameters/ProjectionName"
     }
    ],
    "responses": {
     "204": {
      "description": "Asked to stop"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchProjection"
     },
     "409": {
      "$ref": "#/components/responses/ProjectionHeld"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projection/status/{name}": {
   "get": {
    "summary": "A projection's status",
    "parameters": [
     {
      "$ref": "#/components/parameters/ProjectionName"
     }
    ],
    "responses": {
     "200": {
      "description": "JSON",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ProjectionStatus"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchProjection"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projection/state/{name}": {
   "get": {
    "summary": "A projection's saved state (the JSON its handlers keep)",
    "parameters": [
     {
      "$ref": "#/components/parameters/ProjectionName"
     }
    ],
    "responses": {
     "200": {
      "description": "JSON",
      "content": {
       "application/json": {
        "schema": {}
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchProjection"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/projection/stream-positions/{name}": {
   "get": {
    "summary": "A projection's position in each stream",
    "parameters": [
     {
      "$ref": "#/components/parameters/ProjectionName"
     }
    ],
    "responses": {
     "200": {
      "description": "JSON",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "additionalProperties": {
          "type": "integer",
          "minimum": 0
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchProjection"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/health": {
   "get": {
    "summary": "Whether the server runs (liveness, as /health/live; no token needed)",
    "security": [],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Live"
     }
    }
   }
  },
  "/health/live": {
   "get": {
    "summary": "Whether the server runs (liveness, as /health/live; no token needed)",
    "security": [],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Live"
     }
    }
   }
  },
  "/health/ready": {
   "get": {
    "summary": "Whether the store's database answers within the readiness timeout and readers of the global order are not held back by an open transaction past the stall threshold (readiness; no token needed)",
    "security": [],
    "responses": {
     "200": {
      "description": "It answers",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "status"
         ],
         "properties": {
          "status": {
           "const": "ready"
          },
          "writes": {
           "type": "string",
           "description": "The database server the store writes to (host:port), for a store that names it (PostgreSQL): on a cluster, the primary as the store last found it; absent while it does not know (a failover under way)"
          },
          "reads": {
           "type": "array",
           "items": {
            "type": "string"
           },
           "description": "The database servers the store reads from (host:port), for a store that names them"
          }
         }
        }
       }
      }
     },
     "503": {
      "description": "The database did not answer, or not in time; or readers of the global order have waited past the stall threshold for an open transaction, which the detail names",
      "content": {
       "application/problem+json": {
        "schema": {
         "$ref": "#/components/schemas/Problem"
        }
       }
      }
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics (when the server has a registry, as eventstore serve does)",
    "responses": {
     "200": {
      "description": "The text exposition format",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "responses": {
     "200": {
      "description": "OpenAPI 3.1",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "openapi",
          "paths"
         ]
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/groups": {
   "get": {
    "summary": "Consumer group names",
    "parameters": [
     {
      "$ref": "#/components/parameters/Limit"
     },
     {
      "$ref": "#/components/parameters/Offset"
     }
    ],
    "responses": {
     "200": {
      "$ref": "#/components/responses/Names"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}": {
   "get": {
    "summary": "A consumer group: settings, checkpoint, consumers, counters and lag",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     }
    ],
    "responses": {
     "200": {
      "description": "The group",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/GroupInfo"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   },
   "put": {
    "summary": "Create a consumer group",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/NewGroup"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/GroupInfo"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "409": {
      "$ref": "#/components/responses/GroupExists"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   },
   "post": {
    "summary": "Change a consumer group's target or settings (its checkpoint stays)",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/NewGroup"
       }
      }
     }
    },
    "responses": {
     "204": {
      "description": "Changed"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   },
   "delete": {
    "summary": "Delete a consumer group",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     }
    ],
    "responses": {
     "204": {
      "description": "Deleted"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/move": {
   "post": {
    "summary": "Start a consumer group over at the start or the end of its target, or after a global position",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "properties": {
         "start": {
          "$ref": "#/components/schemas/GroupStart"
         }
        }
       }
      }
     }
    },
    "responses": {
     "204": {
      "description": "Moved"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/take": {
   "post": {
    "summary": "Hand a consumer up to count deliveries, each with its ack and nack links",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/ConsumerName"
     },
     {
      "description": "At most this many deliveries (1 to 1000; 1 by default)",
      "in": "query",
      "name": "count",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000
      }
     }
    ],
    "responses": {
     "200": {
      "description": "The deliveries, none when there is nothing to hand out now",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "deliveries"
         ],
         "properties": {
          "deliveries": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Delivery"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/leave": {
   "post": {
    "summary": "A consumer leaves a consumer group: what it holds goes to the others at once (nothing happens for a group or a consumer that is not there)",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/ConsumerName"
     }
    ],
    "responses": {
     "204": {
      "description": "Left"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/follow": {
   "get": {
    "summary": "Follow a consumer group as a consumer: its deliveries as Server-Sent Events (a write token's route)",
    "description": "Each event is a delivery: id is the delivery's id, event is \"delivery\", data what take hands out (with its ack and nack links). Deliveries come up to count at a time, as acknowledgements and rejections make room under the group's in-flight limit. The consumer leaves the group when the stream ends, and what it held goes to the others. Read-only tokens get 403: following takes deliveries.",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/ConsumerName"
     },
     {
      "description": "At most this many deliveries taken at a time (1 to 1000; 10 by default)",
      "in": "query",
      "name": "count",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "text/event-stream": {
        "schema": {
         "type": "string"
        }
       }
      },
      "description": "Server-Sent Events: one delivery each (id: the delivery's id, event: delivery, data: a Delivery as one line of JSON)"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/ack": {
   "post": {
    "summary": "Acknowledge deliveries; ids no longer in flight are ignored",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/Consumer"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "ids"
        ],
        "properties": {
         "ids": {
          "type": "array",
          "maxItems": 1000,
          "items": {
           "type": "string",
           "format": "uuid"
          }
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "How many were acknowledged",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "acknowledged"
         ],
         "properties": {
          "acknowledged": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/ack/{id}": {
   "post": {
    "summary": "Acknowledge one delivery",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/DeliveryID"
     },
     {
      "$ref": "#/components/parameters/Consumer"
     }
    ],
    "responses": {
     "200": {
      "description": "1 when it was in flight, else 0",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "acknowledged"
         ],
         "properties": {
          "acknowledged": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/nack": {
   "post": {
    "summary": "Reject deliveries: retry (the default), park or skip",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/Consumer"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "ids"
        ],
        "properties": {
         "ids": {
          "type": "array",
          "maxItems": 1000,
          "items": {
           "type": "string",
           "format": "uuid"
          }
         },
         "action": {
          "enum": [
           "retry",
           "park",
           "skip"
          ],
          "type": "string"
         },
         "reason": {
          "type": "string"
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "How many were in flight",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "rejected"
         ],
         "properties": {
          "rejected": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/nack/{id}": {
   "post": {
    "summary": "Reject one delivery",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/DeliveryID"
     },
     {
      "$ref": "#/components/parameters/Consumer"
     },
     {
      "description": "retry (the default), park or skip",
      "in": "query",
      "name": "action",
      "required": false,
      "schema": {
       "enum": [
        "retry",
        "park",
        "skip"
       ],
       "type": "string"
      }
     },
     {
      "description": "Why (kept with a parked event)",
      "in": "query",
      "name": "reason",
      "required": false,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "1 when it was in flight, else 0",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "rejected"
         ],
         "properties": {
          "rejected": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/parked": {
   "get": {
    "summary": "A consumer group's parked events, oldest first",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     },
     {
      "$ref": "#/components/parameters/Limit"
     }
    ],
    "responses": {
     "200": {
      "description": "Parked events",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object",
          "required": [
           "reason",
           "deliveries",
           "event"
          ],
          "properties": {
           "reason": {
            "type": "string"
           },
           "deliveries": {
            "type": "integer"
           },
           "event": {
            "type": "object"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/groups/{name}/replay-parked": {
   "post": {
    "summary": "Hand a consumer group's parked events out again",
    "parameters": [
     {
      "$ref": "#/components/parameters/GroupName"
     }
    ],
    "responses": {
     "200": {
      "description": "How many",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "replayed"
         ],
         "properties": {
          "replayed": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NoSuchGroup"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/all": {
   "get": {
    "summary": "A page of the global order",
    "description": "The events of every stream but internal ones ($…), of some streams or of some categories, after a global position, in global order, each with its stream and global position; and how far the read looked (read_through): every event of the target up to it is in the page, so the next read goes on after it.",
    "parameters": [
     {
      "name": "after",
      "in": "query",
      "required": false,
      "schema": {
       "$ref": "#/components/schemas/GlobalPosition"
      },
      "description": "Read the events after this global position (0, the start, when absent). A position past the store's head, which it never handed out, is a 400."
     },
     {
      "name": "stream",
      "in": "query",
      "required": false,
      "style": "form",
      "explode": true,
      "schema": {
       "type": "array",
       "maxItems": 5,
       "items": {
        "$ref": "#/components/schemas/StreamName"
       }
      },
      "description": "Only these streams (each given once); not with category"
     },
     {
      "name": "category",
      "in": "query",
      "required": false,
      "style": "form",
      "explode": true,
      "schema": {
       "type": "array",
       "maxItems": 5,
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.:@]{0,99}$"
       }
      },
      "description": "Only the streams of these categories; not with stream"
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 10000
      },
      "description": "The most events (100 when absent)"
     }
    ],
    "responses": {
     "200": {
      "description": "The page",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "events",
          "read_through"
         ],
         "additionalProperties": false,
         "properties": {
          "events": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/RecordedEvent"
           }
          },
          "read_through": {
           "$ref": "#/components/schemas/Position"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/all/count": {
   "get": {
    "summary": "How many events of a target follow a position",
    "description": "Counted up to limit, without reading them: how far a reader is behind.",
    "parameters": [
     {
      "name": "after",
      "in": "query",
      "required": false,
      "schema": {
       "$ref": "#/components/schemas/GlobalPosition"
      },
      "description": "Read the events after this global position (0, the start, when absent). A position past the store's head, which it never handed out, is a 400."
     },
     {
      "name": "stream",
      "in": "query",
      "required": false,
      "style": "form",
      "explode": true,
      "schema": {
       "type": "array",
       "maxItems": 5,
       "items": {
        "$ref": "#/components/schemas/StreamName"
       }
      },
      "description": "Only these streams (each given once); not with category"
     },
     {
      "name": "category",
      "in": "query",
      "required": false,
      "style": "form",
      "explode": true,
      "schema": {
       "type": "array",
       "maxItems": 5,
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.:@]{0,99}$"
       }
      },
      "description": "Only the streams of these categories; not with stream"
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1
      },
      "description": "Count no further (100 when absent)"
     }
    ],
    "responses": {
     "200": {
      "description": "The count",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "count"
         ],
         "additionalProperties": false,
         "properties": {
          "count": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/head": {
   "get": {
    "summary": "The global order's head",
    "description": "head: the position of the last event committed (0 when none); readable: a position below which every event is committed and readable (on PostgreSQL, the start of the oldest transaction still running).",
    "responses": {
     "200": {
      "description": "The head",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "head",
          "readable"
         ],
         "additionalProperties": false,
         "properties": {
          "head": {
           "$ref": "#/components/schemas/Position"
          },
          "readable": {
           "$ref": "#/components/schemas/Position"
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/checkpoints/{name}": {
   "get": {
    "summary": "A checkpoint (a durable subscription's position)",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "$ref": "#/components/schemas/Key"
      },
      "description": "The checkpoint's name"
     }
    ],
    "responses": {
     "200": {
      "description": "The position saved under the name, null when none is",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "position"
         ],
         "additionalProperties": false,
         "properties": {
          "position": {
           "oneOf": [
            {
             "$ref": "#/components/schemas/Position"
            },
            {
             "type": "null"
            }
           ]
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   },
   "put": {
    "summary": "Saves a checkpoint, replacing the one before",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "$ref": "#/components/schemas/Key"
      },
      "description": "The checkpoint's name"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "position"
        ],
        "additionalProperties": false,
        "properties": {
         "position": {
          "$ref": "#/components/schemas/Position"
         }
        }
       }
      }
     }
    },
    "responses": {
     "204": {
      "description": "Saved"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "413": {
      "$ref": "#/components/responses/BodyTooLarge"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/snapshots/{type}/{id}": {
   "get": {
    "summary": "The latest snapshot of an aggregate",
    "parameters": [
     {
      "name": "type",
      "in": "path",
      "required": true,
      "schema": {
       "$ref": "#/components/schemas/Key"
      },
      "description": "The aggregate type"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "$ref": "#/components/schemas/Key"
      },
      "description": "The aggregate id"
     }
    ],
    "responses": {
     "200": {
      "description": "The snapshot",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Snapshot"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "404": {
      "description": "The aggregate has no snapshot",
      "content": {
       "application/problem+json": {
        "schema": {
         "$ref": "#/components/schemas/Problem"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/snapshots": {
   "post": {
    "summary": "Saves snapshots, each replacing the one before for its aggregate",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "array",
        "maxItems": 100,
        "items": {
         "$ref": "#/components/schemas/Snapshot"
        }
       }
      }
     }
    },
    "responses": {
     "204": {
      "description": "Saved"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "413": {
      "$ref": "#/components/responses/BodyTooLarge"
     },
     "415": {
      "$ref": "#/components/responses/NotJSON"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/snapshots/{type}": {
   "delete": {
    "summary": "Removes every snapshot of an aggregate type",
    "parameters": [
     {
      "name": "type",
      "in": "path",
      "required": true,
      "schema": {
       "$ref": "#/components/schemas/Key"
      },
      "description": "The aggregate type"
     }
    ],
    "responses": {
     "204": {
      "description": "Removed"
     },
     "400": {
      "$ref": "#/components/responses/BadInput"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  },
  "/scavenge": {
   "post": {
    "summary": "Removes for good the events past their stream's retention, and soft-deleted streams' events",
    "responses": {
     "200": {
      "description": "What was removed",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "streams",
          "events"
         ],
         "additionalProperties": false,
         "properties": {
          "streams": {
           "type": "integer",
           "minimum": 0
          },
          "events": {
           "type": "integer",
           "minimum": 0
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "503": {
      "$ref": "#/components/responses/Unavailable"
     }
    }
   }
  }
 },
 "components": {
  "schemas": {
   "Problem": {
    "type": "object",
    "description": "RFC 9457",
    "required": [
     "type",
     "title",
     "status"
    ],
    "properties": {
     "type": {
      "type": "string"
     },
     "title": {
      "type": "string"
     },
     "status": {
      "type": "integer",
      "minimum": 400,
      "maximum": 599
     },
     "detail": {
      "type": "string"
     },
     "code": {
      "type": "string",
      "description": "For a store error, its code: stream_not_found, stream_exists, stream_deleted, wrong_expected_version, duplicate_event, invalid_argument, busy, backend_failure, …"
     },
     "stream": {
      "type": "string",
      "description": "The stream the error is about"
     },
     "expected_version": {
      "type": "string",
      "description": "For wrong_expected_version: what the writer expected"
     },
     "actual_version": {
      "type": [
       "integer",
       "null"
      ],
      "description": "For wrong_expected_version: the stream's version, null when it does not exist"
     },
     "projection": {
      "type": "string"
     }
    }
   },
   "StreamName": {
    "type": "string",
    "description": "1 to 150 bytes of UTF-8 without control characters (documented here as the ASCII names clients send; any such text is accepted)",
    "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,149}$"
   },
   "Key": {
    "type": "string",
    "description": "A name the store looks up: any text without U+0000 (documented here as ASCII)",
    "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,99}$"
   },
   "Pattern": {
    "type": "string",
    "description": "A regular expression (documented here as literal words; the shared syntax is in the EventStore documentation, \"Streams and events\")",
    "pattern": "^[A-Za-z0-9_]{1,100}$"
   },
   "GlobalPosition": {
    "type": "string",
    "pattern": "^([0-9]{1,18}|[0-9]{1,18}:[0-9]{1,18})$",
    "description": "A sequence (42) or a commit and a sequence (7:42), as the events' global_position"
   },
   "ExpectedVersion": {
    "type": "string",
    "pattern": "^(any|no-stream|exists|[0-9]{1,9})$",
    "description": "any (the default), no-stream, exists, or the stream's version"
   },
   "MetadataValue": {
    "oneOf": [
     {
      "type": "string",
      "pattern": "^[^\\u0000]*$",
      "maxLength": 1000
     },
     {
      "type": "integer",
      "minimum": -9223372036854775808,
      "maximum": 9223372036854775807
     },
     {
      "type": "number",
      "not": {
       "type": "integer"
      }
     },
     {
      "type": "boolean"
     }
    ]
   },
   "Metadata": {
    "type": "object",
    "description": "Flat: keys without U+0000, values strings, integers (64-bit), other numbers or booleans",
    "propertyNames": {
     "minLength": 1,
     "maxLength": 100,
     "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    },
    "additionalProperties": {
     "$ref": "#/components/schemas/MetadataValue"
    }
   },
   "StoredMetadata": {
    "type": "object",
    "description": "Metadata as stored, with the store's own keys (those that begin with _)",
    "additionalProperties": {
     "type": [
      "string",
      "number",
      "boolean"
     ]
    }
   },
   "NewEvent": {
    "type": "object",
    "required": [
     "message_name"
    ],
    "additionalProperties": false,
    "properties": {
     "message_name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 63,
      "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$",
      "description": "At most 255 bytes of UTF-8, no control characters"
     },
     "uuid": {
      "type": "string",
      "format": "uuid",
      "description": "Generated when missing"
     },
     "payload": {
      "type": "object",
      "description": "Any JSON object, nested at most 31 deep, kept byte for byte"
     },
     "metadata": {
      "$ref": "#/components/schemas/Metadata"
     },
     "created_at": {
      "type": "string",
      "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.[0-9]{6}$",
      "description": "UTC, microseconds; now when missing"
     }
    }
   },
   "RecordedEvent": {
    "type": "object",
    "required": [
     "message_name",
     "uuid",
     "payload",
     "metadata",
     "created_at",
     "position"
    ],
    "properties": {
     "message_name": {
      "type": "string"
     },
     "uuid": {
      "type": "string",
      "format": "uuid"
     },
     "payload": {
      "type": "object"
     },
     "metadata": {
      "$ref": "#/components/schemas/StoredMetadata"
     },
     "created_at": {
      "type": "string"
     },
     "position": {
      "type": "integer",
      "minimum": 1
     },
     "stream": {
      "type": "string"
     },
     "global_position": {
      "type": [
       "integer",
       "string"
      ]
     }
    }
   },
   "StreamPage": {
    "type": "object",
    "required": [
     "title",
     "id",
     "streamName",
     "_links",
     "entries"
    ],
    "properties": {
     "title": {
      "type": "string"
     },
     "id": {
      "type": "string"
     },
     "streamName": {
      "type": "string"
     },
     "_links": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "uri",
        "relation"
       ],
       "properties": {
        "uri": {
         "type": "string"
        },
        "relation": {
         "type": "string",
         "enum": [
          "self",
          "first",
          "last",
          "next",
          "previous"
         ]
        }
       }
      }
     },
     "entries": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/RecordedEvent"
      }
     }
    }
   },
   "StreamDescription": {
    "type": "object",
    "required": [
     "title",
     "_links"
    ],
    "properties": {
     "title": {
      "type": "string"
     },
     "description": {
      "type": "string"
     },
     "_links": {
      "type": "object"
     }
    }
   },
   "ProjectionStatus": {
    "type": "object",
    "required": [
     "name",
     "kind",
     "status"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "kind": {
      "type": "string"
     },
     "status": {
      "type": "string",
      "enum": [
       "running",
       "stopping",
       "deleting",
       "deleting incl emitted events",
       "resetting",
       "idle"
      ]
     }
    }
   },
   "GroupStart": {
    "description": "start (the default: the target's first event), end (only events stored from now on), or after a global position this store handed out (a composite position on a partitioned server)",
    "oneOf": [
     {
      "enum": [
       "start",
       "end"
      ],
      "type": "string"
     },
     {
      "type": "object",
      "required": [
       "after"
      ],
      "properties": {
       "after": {
        "$ref": "#/components/schemas/GlobalPosition"
       }
      }
     }
    ]
   },
   "NewGroup": {
    "type": "object",
    "required": [
     "target"
    ],
    "properties": {
     "target": {
      "$ref": "#/components/schemas/GroupTarget"
     },
     "start": {
      "$ref": "#/components/schemas/GroupStart"
     },
     "settings": {
      "$ref": "#/components/schemas/GroupSettings"
     },
     "matcher": {
      "$ref": "#/components/schemas/Matcher"
     }
    }
   },
   "GroupInfo": {
    "type": "object",
    "required": [
     "name",
     "target",
     "settings",
     "checkpoint",
     "consumers",
     "in_flight",
     "parked",
     "retries",
     "acknowledged",
     "skipped",
     "lag_events",
     "lag_seconds"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "target": {
      "$ref": "#/components/schemas/GroupTarget"
     },
     "settings": {
      "$ref": "#/components/schemas/GroupSettings"
     },
     "checkpoint": {
      "type": "string"
     },
     "consumers": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "in_flight": {
      "type": "integer"
     },
     "parked": {
      "type": "integer"
     },
     "retries": {
      "type": "integer"
     },
     "acknowledged": {
      "type": "integer"
     },
     "skipped": {
      "type": "integer"
     },
     "lag_events": {
      "type": "integer"
     },
     "lag_seconds": {
      "type": "number"
     },
     "matcher": {
      "$ref": "#/components/schemas/Matcher"
     }
    }
   },
   "Delivery": {
    "type": "object",
    "required": [
     "id",
     "attempt",
     "ack",
     "nack",
     "event"
    ],
    "properties": {
     "id": {
      "format": "uuid",
      "type": "string"
     },
     "attempt": {
      "minimum": 1,
      "type": "integer"
     },
     "ack": {
      "type": "string"
     },
     "nack": {
      "type": "string"
     },
     "event": {
      "type": "object"
     }
    }
   },
   "Position": {
    "oneOf": [
     {
      "type": "integer",
      "minimum": 0,
      "maximum": 9223372036854775807
     },
     {
      "$ref": "#/components/schemas/GlobalPosition"
     }
    ],
    "description": "A global position as events carry it: a number (42), or a commit and a sequence (\"7:42\") on PostgreSQL"
   },
   "Snapshot": {
    "type": "object",
    "required": [
     "aggregate_type",
     "aggregate_id",
     "last_version",
     "state"
    ],
    "additionalProperties": false,
    "properties": {
     "aggregate_type": {
      "$ref": "#/components/schemas/Key"
     },
     "aggregate_id": {
      "$ref": "#/components/schemas/Key"
     },
     "last_version": {
      "type": "integer",
      "minimum": 1,
      "maximum": 1000000
     },
     "state": {
      "type": "object"
     },
     "created_at": {
      "type": "string",
      "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.[0-9]{6}$",
      "description": "UTC, microseconds; now when missing"
     }
    }
   },
   "GroupTarget": {
    "description": "\"all\", or one of stream, streams, category, categories",
    "oneOf": [
     {
      "enum": [
       "all"
      ],
      "type": "string"
     },
     {
      "type": "object",
      "required": [
       "stream"
      ],
      "properties": {
       "stream": {
        "$ref": "#/components/schemas/StreamName"
       }
      }
     },
     {
      "type": "object",
      "required": [
       "streams"
      ],
      "properties": {
       "streams": {
        "type": "array",
        "minItems": 1,
        "items": {
         "$ref": "#/components/schemas/StreamName"
        }
       }
      }
     },
     {
      "type": "object",
      "required": [
       "category"
      ],
      "properties": {
       "category": {
        "type": "string"
       }
      }
     },
     {
      "type": "object",
      "required": [
       "categories"
      ],
      "properties": {
       "categories": {
        "type": "array",
        "minItems": 1,
        "items": {
         "type": "string"
        }
       }
      }
     }
    ]
   },
   "GroupSettings": {
    "type": "object",
    "properties": {
     "max_retries": {
      "description": "10 by default",
      "minimum": 0,
      "maximum": 1000000,
      "type": "integer"
     },
     "message_timeout_ms": {
      "description": "30000 by default",
      "minimum": 1,
      "maximum": 86400000,
      "type": "integer"
     },
     "max_in_flight": {
      "description": "Per consumer; 10 by default",
      "minimum": 1,
      "maximum": 1000,
      "type": "integer"
     },
     "strategy": {
      "enum": [
       "round_robin",
       "pinned_by_stream"
      ],
      "type": "string"
     }
    }
   },
   "Matcher": {
    "description": "Conditions an event meets, all of them. Each tests a metadata key (field) or a message property (property), never both, with an operator and a value: one value for = != > >= < <= (booleans are not ordered), a list for in and nin, a pattern for regex. Checked beyond this schema (400): a pattern must compile; position takes integers, uuid and message_name strings, created_at timestamps",
    "type": "array",
    "items": {
     "allOf": [
      {
       "type": "object",
       "properties": {
        "field": {
         "$ref": "#/components/schemas/Key"
        },
        "property": {
         "enum": [
          "uuid",
          "message_name",
          "created_at",
          "position"
         ],
         "type": "string"
        }
       },
       "oneOf": [
        {
         "required": [
          "field"
         ]
        },
        {
         "required": [
          "property"
         ]
        }
       ]
      },
      {
       "oneOf": [
        {
         "type": "object",
         "required": [
          "operator",
          "value"
         ],
         "description": "equality",
         "properties": {
          "operator": {
           "enum": [
            "=",
            "!="
           ],
           "type": "string"
          },
          "value": {
           "$ref": "#/components/schemas/MetadataValue"
          }
         }
        },
        {
         "type": "object",
         "required": [
          "operator",
          "value"
         ],
         "description": "ordering",
         "properties": {
          "operator": {
           "enum": [
            ">",
            ">=",
            "<",
            "<="
           ],
           "type": "string"
          },
          "value": {
           "oneOf": [
            {
             "type": "string",
             "pattern": "^[^\\u0000]*$",
             "maxLength": 1000
            },
            {
             "type": "integer",
             "minimum": -9223372036854775808,
             "maximum": 9223372036854775807
            },
            {
             "type": "number",
             "not": {
              "type": "integer"
             }
            }
           ]
          }
         }
        },
        {
         "type": "object",
         "required": [
          "operator",
          "value"
         ],
         "description": "membership",
         "properties": {
          "operator": {
           "enum": [
            "in",
            "nin"
           ],
           "type": "string"
          },
          "value": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/MetadataValue"
           }
          }
         }
        },
        {
         "type": "object",
         "required": [
          "operator",
          "value"
         ],
         "description": "a regular expression",
         "properties": {
          "operator": {
           "enum": [
            "regex"
           ],
           "type": "string"
          },
          "value": {
           "type": "string",
           "pattern": "^[^\\u0000]*$",
           "maxLength": 200
          }
         }
        }
       ]
      }
     ]
    }
   }
  },
  "parameters": {
   "Accept": {
    "in": "header",
    "name": "Accept",
    "required": false,
    "schema": {
     "enum": [
      "application/json",
      "application/atom+json",
      "application/vnd.eventstore.atom+json"
     ],
     "type": "string"
    }
   },
   "ExactFilter": {
    "description": "The exact name",
    "in": "path",
    "name": "filter",
    "required": true,
    "schema": {
     "$ref": "#/components/schemas/Key"
    }
   },
   "From": {
    "description": "Start after this global position",
    "in": "query",
    "name": "from",
    "required": false,
    "schema": {
     "$ref": "#/components/schemas/GlobalPosition"
    }
   },
   "LastEventID": {
    "description": "Resume after this position (wins over from)",
    "in": "header",
    "name": "Last-Event-ID",
    "required": false,
    "schema": {
     "$ref": "#/components/schemas/GlobalPosition"
    }
   },
   "Limit": {
    "description": "At most this many names (at most the server's --max-listing-limit)",
    "in": "query",
    "name": "limit",
    "required": false,
    "schema": {
     "default": 20,
     "maximum": 1000,
     "minimum": 1,
     "type": "integer"
    }
   },
   "Offset": {
    "in": "query",
    "name": "offset",
    "required": false,
    "schema": {
     "default": 0,
     "maximum": 2147483647,
     "minimum": 0,
     "type": "integer"
    }
   },
   "ProjectionName": {
    "description": "The projection's name",
    "in": "path",
    "name": "name",
    "required": true,
    "schema": {
     "$ref": "#/components/schemas/Key"
    }
   },
   "RegexFilter": {
    "description": "A regular expression of the syntax every backend shares (the EventStore documentation, \"Streams and events\")",
    "in": "path",
    "name": "filter",
    "required": true,
    "schema": {
     "$ref": "#/components/schemas/Pattern"
    }
   },
   "Start": {
    "description": "A position of 1 or more, or head (the last event)",
    "in": "path",
    "name": "start",
    "required": true,
    "schema": {
     "pattern": "^(head|[1-9][0-9]{0,17})$",
     "type": "string"
    }
   },
   "StreamName": {
    "description": "The stream's name",
    "in": "path",
    "name": "name",
    "required": true,
    "schema": {
     "$ref": "#/components/schemas/StreamName"
    }
   },
   "GroupName": {
    "description": "The consumer group's name (1 to 150 bytes, no control characters)",
    "in": "path",
    "name": "name",
    "required": true,
    "schema": {
     "$ref": "#/components/schemas/Key"
    }
   },
   "DeliveryID": {
    "description": "A delivery's id, as take handed it out",
    "in": "path",
    "name": "id",
    "required": true,
    "schema": {
     "format": "uuid",
     "type": "string"
    }
   },
   "Consumer": {
    "description": "The consumer acknowledging or rejecting (it counts as heard from)",
    "in": "query",
    "name": "consumer",
    "required": false,
    "schema": {
     "type": "string"
    }
   },
   "ConsumerName": {
    "description": "The consumer's name",
    "in": "query",
    "name": "consumer",
    "required": true,
    "schema": {
     "type": "string",
     "minLength": 1,
     "maxLength": 200
    }
   }
  },
  "responses": {
   "BadInput": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Bad input"
   },
   "BodyTooLarge": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "The body is over the size limit"
   },
   "EventStream": {
    "content": {
     "text/event-stream": {
      "schema": {
       "type": "string"
      }
     }
    },
    "description": "Server-Sent Events: id is the global position, event the message name, data the event as one line of JSON"
   },
   "Forbidden": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "A read-only token, or a page of another site (Origin)"
   },
   "Live": {
    "description": "It runs",
    "content": {
     "application/json": {
      "schema": {
       "type": "object",
       "required": [
        "status"
       ],
       "properties": {
        "status": {
         "const": "ok"
        }
       }
      }
     }
    }
   },
   "Names": {
    "content": {
     "application/json": {
      "schema": {
       "items": {
        "type": "string"
       },
       "type": "array"
      }
     }
    },
    "description": "Names, sorted"
   },
   "NoSuchProjection": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "No such projection"
   },
   "StreamDeleted": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "The stream was deleted for good (a hard delete): its name cannot be used again"
   },
   "NoSuchStream": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "No such stream"
   },
   "NotJSON": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Not a JSON content type"
   },
   "ProjectionHeld": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "A runner elsewhere holds the projection"
   },
   "StreamPage": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/StreamPage"
      }
     },
     "application/vnd.eventstore.streamdesc+json": {
      "schema": {
       "$ref": "#/components/schemas/StreamDescription"
      }
     }
    },
    "description": "A page of events with _links (with an Accept of application/json, application/atom+json or application/vnd.eventstore.atom+json), or the stream's description document (otherwise)"
   },
   "TooManyEventStreams": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Too many event streams open, or the database did not answer within its deadline"
   },
   "Unauthorized": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "No valid token"
   },
   "Unavailable": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "headers": {
     "Retry-After": {
      "description": "Seconds to wait before trying again",
      "schema": {
       "type": "integer"
      }
     }
    },
    "description": "The database did not answer within its deadline, or the server is shutting down; for a write the detail says whether its outcome is unknown (read before retrying)"
   },
   "NoSuchGroup": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "No such consumer group"
   },
   "GroupExists": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "A consumer group of that name exists"
   }
  },
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer"
   }
  }
 }
}
"""#
}
