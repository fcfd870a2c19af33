//! Reading XML event by event for the rebuilds (SVG, Office Open XML parts): end tags checked
//! against their start, the deadline checked every few thousand events, and a malformed
//! document a Failure of its structure.

use std::time::Instant;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::Failure;

/// Events read between two looks at the clock.
const EVENTS_PER_CHECK: usize = 4096;

pub(crate) struct Events<'a> {
    reader: Reader<&'a [u8]>,
    deadline: Instant,
    read: usize,
}

impl<'a> Events<'a> {
    pub fn new(input: &'a [u8], deadline: Instant) -> Self {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().check_end_names = true;
        Self {
            reader,
            deadline,
            read: 0,
        }
    }

    /// The next event; `Event::Eof` at the end.
    pub fn next(&mut self) -> Result<Event<'a>, Failure> {
        self.read += 1;
        if self.read.is_multiple_of(EVENTS_PER_CHECK) && Instant::now() > self.deadline {
            return Err(Failure::timed_out());
        }
        self.reader
            .read_event()
            .map_err(|error| Failure::invalid(format!("not well-formed XML: {error}")))
    }

    /// Skips the rest of an element whose start was just read (its whole subtree).
    pub fn skip_element(&mut self) -> Result<(), Failure> {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()? {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                Event::Eof => return Err(Failure::invalid("the document ends inside an element")),
                _ => {}
            }
        }
        Ok(())
    }
}
